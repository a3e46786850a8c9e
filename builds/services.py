"""Writes for builds: request one (the same for every recipe kind), cancel it, publish its image.
Views, the API and tasks call these; nothing else writes. Recipes' own writes are in
builds/recipes/services.py."""
from django.db import transaction
from django.utils import timezone

from builds.compose.plan import composed_plan
from builds.dockerfile.services import dockerfile_plan
from builds.models import Build, Recipe
from builds.plan import BuildPlan
from builds.recipes.names import recipe_buildable_check
from builds.tasks import build_dispatch
from compliance.door import ExpectedCheck, build_verdict_current, checks_expected, dockerfile_checks_expected, expected_failures
from compliance.door import build_publish as gate_publish
from portal.audit import audit_record
from portal.rbac import require_team_member

# One planner per recipe kind: a recipe's rows -> the BuildPlan its build records.
PLANNERS = {Recipe.Kind.COMPOSED: composed_plan, Recipe.Kind.DOCKERFILE: dockerfile_plan}


def build_reusable(*, team, composition_sha256: str) -> Build | None:
    """The latest successful, scanned build of the identical composition in this team, if any."""
    return (Build.objects.filter(team=team, composition_sha256=composition_sha256, status=Build.Status.SUCCEEDED,
                                 scan__status="done")
            .exclude(digest="").order_by("-pk").first())


def build_answering(recipe: Recipe, composition_sha256: str) -> Build | None:
    """The build that already answers a request of this recipe: the recipe's latest published build
    (what `latest` holds), of the identical composition, with a passing verdict that is current (same
    rules, same data). A new build would copy the same image, find the same findings, reach the same
    verdict and publish the same digest; so none is made, and no worker is asked."""
    latest = Build.objects.filter(recipe=recipe).exclude(published_reference="").order_by("-pk").first()
    if latest is None or latest.composition_sha256 != composition_sha256 or latest.status != Build.Status.SUCCEEDED:
        return None
    return latest if build_verdict_current(latest) else None


def answered_message(build: Build) -> str:
    """What the pages say when a request was answered by an existing build."""
    return (f"Nothing changed since build #{build.pk}: its image is published and its verdict is current under "
            "today's rules and vulnerability data, so no new build was needed. Tick \"Rebuild every step\" to build anew.")


class BuildExpectedBlocked(Exception):
    """The policy is known to block the image this build would make, and the caller asked to be
    told before building it (the pages, until the user confirms)."""

    def __init__(self, failures: list[ExpectedCheck]):
        super().__init__("The policy will block this image: " + "; ".join(f"{f.title}: {f.detail}" for f in failures))
        self.failures = failures


def plan_expected_checks(recipe: Recipe, plan: BuildPlan) -> list[ExpectedCheck]:
    """What the policy will say of the image `plan` makes, as far as it is known before the build
    (compliance.door; the same checks the forms show while the recipe is written)."""
    runtime = plan.snapshot.get("runtime") or {}
    if recipe.kind == Recipe.Kind.DOCKERFILE:
        return dockerfile_checks_expected(team=recipe.team, base=recipe.base, dockerfile=plan.dockerfile,
                                          build_args=plan.snapshot.get("build_args") or {}, runtime=runtime)
    return checks_expected(team=recipe.team, base=recipe.base, runtime=runtime, dockerfile=plan.dockerfile,
                           component_slugs={c["slug"] for c in plan.snapshot.get("components", [])})


def build_request(*, user, recipe: Recipe, no_cache: bool = False, reason: str = "", ask_if_blocked: bool = False,
                  report_expected: bool = False) -> Build:
    """Plan the recipe's build (CompositionError when it cannot be built), record the plan on a
    new Build and queue it once the row is committed; `reason` says why, when not the team asked.

    Without `no_cache`, a request the recipe's published build already answers (build_answering)
    returns that build, marked `answered_by_existing = True`, at once: nothing is queued.

    `ask_if_blocked`: when the policy is known to block the image (plan_expected_checks), raise
    BuildExpectedBlocked and build nothing; the pages ask the user, then call again without it.
    `report_expected`: build anyway, and say what is expected to fail on the returned build's
    `expected_failures` (the API's answer)."""
    require_team_member(user, recipe.team)
    recipe_buildable_check(recipe)
    plan = PLANNERS[recipe.kind](recipe)
    failures = expected_failures(plan_expected_checks(recipe, plan)) if ask_if_blocked or report_expected else []
    if ask_if_blocked and failures:
        raise BuildExpectedBlocked(failures)
    build = _build_record(user=user, recipe=recipe, plan=plan, no_cache=no_cache, reason=reason, failures=failures)
    build.expected_failures = failures
    return build


def _build_record(*, user, recipe: Recipe, plan: BuildPlan, no_cache: bool, reason: str,
                  failures: list[ExpectedCheck]) -> Build:
    if not no_cache and (answer := build_answering(recipe, plan.composition_sha256)) is not None:
        audit_record(actor=user, action="build.answered", target=answer, team=recipe.team,
                     composition=plan.composition_sha256, **({"reason": reason[:300]} if reason else {}))
        answer.answered_by_existing = True
        return answer
    reusable = None if no_cache else build_reusable(team=recipe.team, composition_sha256=plan.composition_sha256)
    with transaction.atomic():
        build = Build.objects.create(
            reused_from=reusable,
            recipe=recipe,
            team=recipe.team,
            requested_by=user,
            snapshot=plan.snapshot,
            dockerfile=plan.dockerfile,
            script_stage=plan.script_stage,
            build_stage=plan.build_stage,
            context_files=plan.context_files,
            composition_sha256=plan.composition_sha256,
            no_cache=no_cache,
            reason=reason[:300],
            steps={step: {"status": "pending"} for step in Build.STEPS},
        )
        # A build requested although the policy is known to block it says so in the log.
        audit_record(actor=user, action="build.requested", target=build, team=recipe.team, kind=recipe.kind,
                     **({"reason": reason[:300]} if reason else {}),
                     **({"expected_failures": [f.rule for f in failures]} if failures else {}))
        transaction.on_commit(lambda: build_dispatch(build.pk))
    return build


def build_cancel(*, user, build: Build) -> Build:
    """Cancel a queued build at once; ask the worker to stop a running one (it kills the step)."""
    require_team_member(user, build.team)
    with transaction.atomic():
        build = Build.objects.select_for_update().get(pk=build.pk)
        if build.is_done:
            return build
        if build.status == Build.Status.QUEUED:
            build.status, build.finished = Build.Status.CANCELLED, timezone.now()
            build.error_code, build.error_message = "build:user:cancelled", f"Cancelled by {user} before it started."
        build.cancel_requested = True
        build.save(update_fields=["status", "finished", "error_code", "error_message", "cancel_requested"])
        audit_record(actor=user, action="build.cancelled", target=build, team=build.team)
    return build


def build_publish(*, user, build: Build) -> str:
    """Publish a build's image by hand (after a blocked verdict was fixed by an exception, say):
    the gate decides (GateClosed, PermissionDenied, RegistryError), the build's step list follows."""
    reference = gate_publish(build, actor=user)
    build.refresh_from_db()
    if build.steps.get("publish", {}).get("status") != "done":
        build.steps["publish"] = {**build.steps.get("publish", {}), "status": "done",
                                  "finished": (build.published_at or timezone.now()).isoformat()}
        Build.objects.filter(pk=build.pk).update(steps=build.steps)
    return reference
