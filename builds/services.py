"""Writes for recipes and builds. Views, the API and tasks call these; nothing else writes."""
import hashlib

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builds.compose import CompositionError, artifact_filename_check, compose
from builds.models import Build, BuildLogChunk, Recipe, RecipeComponent
from builds.paas import package_blocking, package_check
from builds.recipe_names import recipe_buildable_check, recipe_name_check
from builds.recipe_build_settings import package_findings_in_use
from builds.snapshot import recipe_snapshot, runtime_snapshot, snapshot_as_dict, snapshot_build
from catalog.models import BaseImage, ComponentVersion
from compliance.rule_params import RuleParamsError, capabilities_clean
from portal.audit import audit_record
from portal.rbac import require_team_member


def artifact_check(upload) -> tuple[str, str]:
    """(safe name, sha256) of an uploaded artifact, or a clear error."""
    if upload.size > settings.ARTIFACT_MAX_BYTES:
        raise CompositionError(
            f"The artifact is {upload.size // (1024 * 1024)} MiB; the limit is "
            f"{settings.ARTIFACT_MAX_BYTES // (1024 * 1024)} MiB.",
            {"artifact": "too large"},
        )
    name = upload.name.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        artifact_filename_check(name)
    except CompositionError as error:
        raise CompositionError(str(error), {"artifact": str(error)})
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return name, digest.hexdigest()


def recipe_runtime_set(*, user, recipe: Recipe, runtime: dict) -> Recipe:
    """Change only how the recipe's image is meant to run (the next build records it)."""
    require_team_member(user, recipe.team)
    runtime = runtime_clean(runtime)
    recipe.privileged, recipe.cap_add = runtime["privileged"], runtime["cap_add"]
    recipe.save(update_fields=["privileged", "cap_add", "updated"])
    audit_record(actor=user, action="recipe.runtime_changed", target=recipe, team=recipe.team, **runtime)
    return recipe


def recipe_preview(*, base: BaseImage, choices: list[tuple[ComponentVersion, dict]], artifact_name: str = ""):
    """The Dockerfile a recipe would build, without saving anything (raises CompositionError)."""
    snapshot = snapshot_build(base=base, choices=choices, artifact_name=artifact_name, artifact_sha256="0" * 64 if artifact_name else "")
    return compose(snapshot)


def runtime_clean(runtime: dict) -> dict:
    """{"privileged": bool, "cap_add": [capability names]} in canonical form, or CompositionError."""
    if not isinstance(runtime, dict) or set(runtime) - {"privileged", "cap_add"}:
        raise CompositionError("Runtime settings are privileged and cap_add.", {"runtime": "unknown settings"})
    privileged = runtime.get("privileged", False)
    if not isinstance(privileged, bool):
        raise CompositionError("privileged is true or false.", {"privileged": "true or false"})
    try:
        cap_add = capabilities_clean(runtime.get("cap_add") or [])
    except RuleParamsError as error:
        raise CompositionError(str(error.errors["cap_add"]), {"cap_add": error.errors["cap_add"]})
    return {"privileged": privileged, "cap_add": cap_add}


@transaction.atomic
def recipe_save(*, user, team, name: str, base: BaseImage, choices, artifact=None, recipe: Recipe | None = None,
                runtime: dict | None = None) -> Recipe:
    """Create or update a recipe after validating the whole composition; `runtime` None keeps
    the recipe's runtime settings (a new recipe gets none)."""
    require_team_member(user, team)
    runtime = runtime_clean(runtime) if runtime is not None else None
    if not base.selectable:
        raise CompositionError(f"Base image {base.name} is not approved for use.", {"base": "not approved"})
    artifact_name, artifact_sha256 = ("", "")
    script_findings = None
    if artifact is not None:
        artifact_name, artifact_sha256 = artifact_check(artifact)
        script_findings = package_check(artifact, artifact_name)
    elif recipe is not None:
        artifact_name, artifact_sha256 = recipe.artifact_name, recipe.artifact_sha256
    compose(snapshot_build(base=base, choices=choices, artifact_name=artifact_name, artifact_sha256=artifact_sha256))
    if recipe is None:
        recipe_name_check(team=team, name=name)
        recipe = Recipe(team=team, name=name, created_by=user)
    recipe.base = base
    if runtime is not None:
        recipe.privileged, recipe.cap_add = runtime["privileged"], runtime["cap_add"]
    if artifact is not None:
        recipe.artifact.save(artifact_name, artifact, save=False)
        recipe.artifact_name, recipe.artifact_sha256 = artifact_name, artifact_sha256
        recipe.script_findings = script_findings
    recipe.save()
    recipe.choices.all().delete()
    RecipeComponent.objects.bulk_create(
        [RecipeComponent(recipe=recipe, version=version, values=values) for version, values in choices]
    )
    audit_record(actor=user, action="recipe.saved", target=recipe, team=team, base=base.slug,
                 components=[str(v) for v, _ in choices], privileged=recipe.privileged, cap_add=recipe.cap_add)
    return recipe


def build_queue(build_id: int) -> str:
    """Spread builds over the build queues; each queue is served by workers on one engine
    (DOCKER_HOST), so adding an engine is adding a queue name and a worker."""
    queues = settings.BUILD_QUEUES
    return queues[build_id % len(queues)]


def build_dispatch(build_id: int) -> None:
    from builds.tasks import run_build

    run_build.apply_async(args=[build_id], queue=build_queue(build_id))


def build_reusable(*, team, composition_sha256: str) -> Build | None:
    """The latest successful, scanned build of the identical composition in this team, if any."""
    return (Build.objects.filter(team=team, composition_sha256=composition_sha256, status=Build.Status.SUCCEEDED,
                                 scan__status="done")
            .exclude(digest="").order_by("-pk").first())


def build_request(*, user, recipe: Recipe, no_cache: bool = False) -> Build:
    """Snapshot the composition on a new Build and queue it once the row is committed."""
    if recipe.kind == Recipe.Kind.DOCKERFILE:
        from builds.custom_services import custom_build_request

        return custom_build_request(user=user, recipe=recipe, no_cache=no_cache)
    require_team_member(user, recipe.team)
    recipe_buildable_check(recipe)
    if not recipe.base.selectable:
        raise CompositionError(f"Base image {recipe.base.name} is no longer approved.", {"base": "not approved"})
    if recipe.build_base_id and not recipe.build_base.selectable:
        raise CompositionError(f"Build-stage base {recipe.build_base.name} is no longer approved.", {"build_base": "not approved"})
    findings = package_findings_in_use(recipe)
    if package_blocking(findings):
        errors = [f"{f['script']} line {f['line']}: {f['message']}" for f in findings if f["severity"] == "error"]
        raise CompositionError("The package's .paas scripts have errors: " + "; ".join(errors[:5]),
                               {"artifact": "script errors"})
    snapshot = recipe_snapshot(recipe)
    composition = compose(snapshot)
    reusable = None if no_cache else build_reusable(team=recipe.team, composition_sha256=composition.sha256)
    with transaction.atomic():
        build = Build.objects.create(
            reused_from=reusable,
            recipe=recipe,
            team=recipe.team,
            requested_by=user,
            snapshot={**snapshot_as_dict(snapshot), "runtime": runtime_snapshot(recipe)},
            dockerfile=composition.dockerfile,
            script_stage=composition.script_stage,
            build_stage=composition.build_stage,
            context_files={path: data.decode() for path, data in composition.context_files.items()},
            composition_sha256=composition.sha256,
            no_cache=no_cache,
            steps={step: {"status": "pending"} for step in Build.STEPS},
        )
        audit_record(actor=user, action="build.requested", target=build, team=recipe.team)
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


def log_next_seq(build: Build) -> int:
    last = BuildLogChunk.objects.filter(build=build).order_by("-seq").values_list("seq", flat=True).first()
    return 0 if last is None else last + 1


def build_log_append(*, build: Build, step: str, lines: list[str]) -> None:
    """Store a chunk of log lines and beat the heart. Past the size cap the OLDEST chunks go:
    the end of a log (where builds fail) is what people need."""
    if not lines:
        return
    text = "\n".join(lines) + "\n"
    seq = log_next_seq(build)
    BuildLogChunk.objects.create(build=build, seq=seq, first_line=build.log_lines + 1, step=step, text=text)
    build.log_lines += len(lines)
    build.log_bytes += len(text)
    build.heartbeat = timezone.now()
    if build.log_bytes > settings.BUILD_LOG_MAX_BYTES:
        _log_drop_oldest(build)
    Build.objects.filter(pk=build.pk).update(
        log_lines=build.log_lines, log_bytes=build.log_bytes, heartbeat=build.heartbeat,
        log_dropped_lines=build.log_dropped_lines,
    )


def _log_drop_oldest(build: Build) -> None:
    for chunk in BuildLogChunk.objects.filter(build=build).order_by("seq").only("pk", "text"):
        if build.log_bytes <= settings.BUILD_LOG_MAX_BYTES * 0.9:
            break
        build.log_bytes -= len(chunk.text)
        build.log_dropped_lines += chunk.text.count("\n")
        chunk.delete()
