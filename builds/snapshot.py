"""Turn a recipe's rows into the pure composer's input (and into JSON for the Build record)."""
from dataclasses import asdict

from django.conf import settings

from builds.compose import Artifact, ComponentChoice, RecipeSnapshot
from catalog.models import BaseImage, ComponentVersion


def registry_host() -> str:
    return settings.REGISTRY_URL.split("://", 1)[-1].rstrip("/")


def base_reference(base: BaseImage) -> str:
    return f"{registry_host()}/{base.repository}@{base.digest}"


def component_choice(version: ComponentVersion, values: dict) -> ComponentChoice:
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
    return RecipeSnapshot(
        base_reference=base_reference(base),
        base_os_family=base.os_family,
        components=tuple(component_choice(v, values) for v, values in choices),
        artifact=Artifact(artifact_name, artifact_sha256) if artifact_name else None,
    )


def recipe_snapshot(recipe) -> RecipeSnapshot:
    from dataclasses import replace

    from builds.paas import recipe_image_script

    choices = [(c.version, c.values) for c in recipe.choices.select_related("version__component")]
    snapshot = snapshot_build(
        base=recipe.base, choices=choices, artifact_name=recipe.artifact_name, artifact_sha256=recipe.artifact_sha256
    )
    return replace(snapshot, image_script=recipe_image_script(recipe))


def snapshot_as_dict(snapshot: RecipeSnapshot) -> dict:
    data = asdict(snapshot)
    # Certificates and other values are part of the record; they are public material, not secrets.
    data["image_script"] = snapshot.image_script.decode("utf-8", errors="replace")
    return data


def runtime_snapshot(recipe) -> dict:
    """How the image is meant to run, as the build records it (the runtime-privileges rule reads it).
    Not part of the composition: it does not change the image, so builds may still share it."""
    return {"privileged": recipe.privileged, "cap_add": list(recipe.cap_add)}
