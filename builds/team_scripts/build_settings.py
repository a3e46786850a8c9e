"""A recipe's build settings: the build command, the build output, the build-stage base, and the
shared team scripts it uses instead of the package's own `.paas` files. Writes go through here."""
from django.db import transaction

from builds.compose.build_stage import BuildStageError, build_command_clean, relative_path_clean
from builds.compose.snapshot import base_usable_check
from builds.errors import CompositionError
from builds.models import Recipe, TeamScript
from portal.audit import audit_record
from portal.rbac import require_team_member

SCRIPT_FILES = {TeamScript.Kind.BUILD_ENV: "build-env.sh", TeamScript.Kind.IMAGE_ENV: "image-env.sh"}


def package_findings_in_use(recipe: Recipe) -> list[dict]:
    """Findings of the package's scripts that a build would run: a file replaced by a shared team
    script is never run, so its findings do not block."""
    replaced = {SCRIPT_FILES[kind] for kind, script_id in ((TeamScript.Kind.BUILD_ENV, recipe.shared_build_script_id),
                                                           (TeamScript.Kind.IMAGE_ENV, recipe.shared_image_script_id)) if script_id}
    return [f for f in recipe.script_findings if f["script"].rsplit("/", 1)[-1] not in replaced]


def build_base_check(recipe: Recipe, build_base) -> None:
    if build_base is None:
        return
    base_usable_check(build_base, field="build_base")
    if not build_base.build_base and build_base.pk != recipe.base_id:
        raise CompositionError(f"{build_base.name} is not offered as a build-stage base; use the recipe's base or one "
                               "the platform admins flagged for builds.", {"build_base": "not a build base"})


def shared_script_check(recipe: Recipe, script: TeamScript | None, kind: str) -> None:
    if script is None:
        return
    if script.team_id != recipe.team_id or script.kind != kind:
        raise CompositionError(f"{script} is not a {SCRIPT_FILES[kind]} script of team {recipe.team.name}.",
                               {f"shared_{kind.split('-')[0]}_script": "wrong team or kind"})


@transaction.atomic
def recipe_build_settings_save(*, user, recipe: Recipe, build_command=None, build_output: str = "", build_base=None,
                               shared_build_script: TeamScript | None = None,
                               shared_image_script: TeamScript | None = None) -> Recipe:
    """Validate and store the settings; raises CompositionError with per-field errors."""
    require_team_member(user, recipe.team)
    try:
        command = build_command_clean(build_command)
        output = relative_path_clean(build_output)
    except BuildStageError as error:
        raise CompositionError(str(error), {error.field: str(error)})
    build_base_check(recipe, build_base)
    shared_script_check(recipe, shared_build_script, TeamScript.Kind.BUILD_ENV)
    shared_script_check(recipe, shared_image_script, TeamScript.Kind.IMAGE_ENV)
    recipe.build_command, recipe.build_output, recipe.build_base = list(command), output, build_base
    recipe.shared_build_script, recipe.shared_image_script = shared_build_script, shared_image_script
    recipe.save(update_fields=["build_command", "build_output", "build_base", "shared_build_script", "shared_image_script", "updated"])
    audit_record(actor=user, action="recipe.build_settings_saved", target=recipe, team=recipe.team, build_command=list(command),
                 build_output=output, build_base=build_base.slug if build_base else "",
                 shared_build_script=str(shared_build_script or ""), shared_image_script=str(shared_image_script or ""))
    return recipe
