"""Writes for composed recipes: save (after validating the whole composition), runtime settings,
the builder's preview. Views and the API call these; nothing else writes."""
import hashlib

from django.conf import settings
from django.db import transaction

from builds.compose.composer import artifact_filename_check, compose
from builds.compose.snapshot import snapshot_build
from builds.errors import CompositionError
from builds.models import Recipe, RecipeComponent
from builds.recipes.names import recipe_name_check
from builds.recipes.runtime import runtime_clean
from builds.team_scripts.packages import package_check
from catalog.models import BaseImage, ComponentVersion
from catalog.parameters import parameters_clean
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


def recipe_visibility_set(*, user, recipe: Recipe, visible: bool) -> Recipe:
    """Whether other teams (their members and robots) may pull this recipe's published images."""
    require_team_member(user, recipe.team)
    if not isinstance(visible, bool):
        raise CompositionError("visible is true or false.", {"visible": "true or false"})
    recipe.visible_to_other_teams = visible
    recipe.save(update_fields=["visible_to_other_teams", "updated"])
    audit_record(actor=user, action="recipe.visibility_changed", target=recipe, team=recipe.team, visible=visible)
    return recipe


ARTIFACT_NOT_HASHED = "0" * 64  # a preview's artifact that was named but not sent


def recipe_preview(*, base: BaseImage, choices: list[tuple[ComponentVersion, dict]], artifact_name: str = "",
                   artifact_sha256: str = ""):
    """The Dockerfile a recipe would build, without saving anything (raises CompositionError); the
    artifact's checksum is the uploaded file's when the preview was sent it."""
    snapshot = snapshot_build(base=base, choices=choices, artifact_name=artifact_name,
                              artifact_sha256=(artifact_sha256 or ARTIFACT_NOT_HASHED) if artifact_name else "")
    composition = compose(snapshot)
    if artifact_name and not artifact_sha256:  # say so rather than show a checksum of zeros
        composition.dockerfile = composition.dockerfile.replace(
            f"sha256:{ARTIFACT_NOT_HASHED}", "sha256 of the file, computed when it is saved")
    return composition


def values_kept(version: ComponentVersion, values: dict) -> dict:
    """What is stored of the values given for a component: each of its parameters given, as its
    clean value (compose() refused the recipe if one was not valid). Names the component does not
    have are dropped, so nothing a form or an API call sends besides its parameters is kept."""
    clean, _ = parameters_clean(version.parameters, values)
    return {name: clean[name] for name in values if name in clean}


@transaction.atomic
def recipe_save(*, user, team, name: str, base: BaseImage, choices, artifact=None, recipe: Recipe | None = None,
                runtime: dict | None = None) -> Recipe:
    """Create or update a recipe after validating the whole composition; `runtime` None keeps
    the recipe's runtime settings (a new recipe gets none)."""
    require_team_member(user, team)
    runtime = runtime_clean(runtime) if runtime is not None else None
    # The lifecycle as it is now, not as the caller's objects last read it: a version retired meanwhile
    # is refused (the base is read again by the composition below).
    lifecycles = dict(ComponentVersion.objects.filter(pk__in=[v.pk for v, _ in choices]).values_list("pk", "lifecycle"))
    for version, _ in choices:
        version.lifecycle = lifecycles.get(version.pk, version.lifecycle)
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
        [RecipeComponent(recipe=recipe, version=version, values=values_kept(version, values)) for version, values in choices]
    )
    audit_record(actor=user, action="recipe.saved", target=recipe, team=team, base=base.slug,
                 components=[str(v) for v, _ in choices], privileged=recipe.privileged, cap_add=recipe.cap_add)
    return recipe
