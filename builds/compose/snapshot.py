"""Turn a recipe's rows into the pure composer's input (and into JSON for the Build record)."""
from dataclasses import asdict, replace

from adapters.factory import registry_host
from builds.compose.build_stage import BuildStage
from builds.compose.composer import Artifact, ComponentChoice, RecipeSnapshot
from builds.compose.shared_layers import shared_packages_for
from builds.errors import CompositionError
from builds.team_scripts.packages import recipe_package_scripts
from catalog.models import BaseImage, ComponentVersion, Lifecycle


def base_reference(base: BaseImage) -> str:
    return f"{registry_host()}/{base.repository}@{base.digest}"


def version_usable_check(version: ComponentVersion) -> None:
    """Every recipe save, preview and build composes through here, whichever door it came in by
    (page, API, admin, rebuild): a retired version, or a draft nobody published, is refused."""
    if version.usable:
        return
    component = version.component
    if version.lifecycle == Lifecycle.RETIRED:
        latest = component.latest_version()
        advice = f"edit the recipe to use version {latest.version}" if latest else "remove it from the recipe"
        message = f"{component.name} {version.version} is retired and can no longer be built: {advice}."
    else:
        message = f"{component.name} has no version {version.version} you may use."
    raise CompositionError(message, {component.slug: message})


def base_usable_check(base: BaseImage, field: str = "base") -> None:
    """As version_usable_check, for the base a recipe starts FROM (or builds its package on,
    `field` "build_base"): a retired, draft or unapproved base is refused, saying what to do.
    Read as it is now, not as the caller's object last saw it: a base retired meanwhile is refused."""
    base.refresh_from_db(fields=["approved", "digest", "lifecycle", "replacement"])
    if base.usable:
        return
    what = "Build-stage base" if field == "build_base" else "Base image"
    if base.approved and base.digest and base.lifecycle == Lifecycle.RETIRED:
        move_to = base.replacement.name if base.replacement_id else "another base image"
        message = f"{what} {base.name} is retired and can no longer be built: edit the recipe to use {move_to}."
    elif base.approved and base.digest and base.lifecycle == Lifecycle.DRAFT:
        message = f"{what} {base.name} is not published yet: choose a published one."
    else:
        message = f"{what} {base.name} is not approved for use."
    raise CompositionError(message, {field: message})


def component_choice(version: ComponentVersion, values: dict) -> ComponentChoice:
    version_usable_check(version)
    return version_as_choice(version, values)


def version_as_choice(version: ComponentVersion, values: dict) -> ComponentChoice:
    """The composer's view of a version whatever its lifecycle: curation composes a new draft once
    with it, to prove its fragments compose before anyone may choose it."""
    component = version.component
    return ComponentChoice(
        slug=component.slug,
        name=component.name,
        kind=component.kind,
        version=version.version,
        order_weight=component.order_weight,
        fragment=version.fragment,
        final_fragment=version.final_fragment,
        parameters=tuple(version.parameters),
        values=dict(values),
        requires=tuple(version.requires),
        conflicts=tuple(version.conflicts),
        os_families=tuple(version.os_families),
    )


def snapshot_build(*, base: BaseImage, choices: list[tuple[ComponentVersion, dict]], artifact_name: str = "",
                   artifact_sha256: str = "") -> RecipeSnapshot:
    base_usable_check(base)
    return RecipeSnapshot(
        base_reference=base_reference(base),
        base_os_family=base.os_family,
        components=tuple(component_choice(v, values) for v, values in choices),
        artifact=Artifact(artifact_name, artifact_sha256) if artifact_name else None,
        shared_packages=shared_packages_for(base),
    )


def recipe_snapshot(recipe) -> RecipeSnapshot:
    choices = [(c.version, c.values) for c in recipe.choices.select_related("version__component")]
    snapshot = snapshot_build(
        base=recipe.base, choices=choices, artifact_name=recipe.artifact_name, artifact_sha256=recipe.artifact_sha256
    )
    package_scripts, package_root = recipe_package_scripts(recipe)
    network = recipe.team.script_network
    build_script, build_origin = _script(recipe.shared_build_script, package_scripts.get("build-env", b""))
    image_script, image_origin = _script(recipe.shared_image_script, package_scripts.get("image-env", b""))
    build_stage = None
    if build_script or recipe.build_command:
        if recipe.build_base_id:
            base_usable_check(recipe.build_base, field="build_base")
        build_stage = BuildStage(
            base_reference=base_reference(recipe.build_base or recipe.base), script=build_script, script_origin=build_origin,
            command=tuple(recipe.build_command), output=recipe.build_output, package_root=package_root, network=network)
    return replace(snapshot, image_script=image_script, build_stage=build_stage, scripts_network=network,
                   image_script_origin="" if image_origin == "package" else image_origin)


def _script(shared, from_package: bytes) -> tuple[bytes, str]:
    """A shared team script, when the recipe names one, replaces the package's own file."""
    if shared is None:
        return from_package, "package"
    version = shared.latest
    return version.text.encode(), f"team script {shared.name} v{version.number}"


def snapshot_as_dict(snapshot: RecipeSnapshot) -> dict:
    data = asdict(snapshot)
    # Certificates and other values are part of the record; they are public material, not secrets.
    data["image_script"] = snapshot.image_script.decode("utf-8", errors="replace")
    if snapshot.build_stage is not None:
        data["build_stage"]["script"] = snapshot.build_stage.script.decode("utf-8", errors="replace")
    return data
