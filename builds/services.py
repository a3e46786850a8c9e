"""Writes for builds: request one (the same for every recipe kind), cancel it, publish its image.
Views, the API and tasks call these; nothing else writes. Recipes' own writes are in
builds/recipes/services.py."""
from django.db import transaction
from django.utils import timezone

from builds.compose.plan import composed_plan
from builds.dockerfile.services import dockerfile_plan
from builds.models import Build, Recipe
from builds.recipes.names import recipe_buildable_check
from builds.tasks import build_dispatch
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


def build_request(*, user, recipe: Recipe, no_cache: bool = False, reason: str = "") -> Build:
    """Plan the recipe's build (CompositionError when it cannot be built), record the plan on a
    new Build and queue it once the row is committed; `reason` says why, when not the team asked."""
    require_team_member(user, recipe.team)
    recipe_buildable_check(recipe)
    plan = PLANNERS[recipe.kind](recipe)
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
        audit_record(actor=user, action="build.requested", target=build, team=recipe.team, kind=recipe.kind,
                     **({"reason": reason[:300]} if reason else {}))
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
