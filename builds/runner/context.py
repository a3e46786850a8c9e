"""The worker's side of composition: the build context (the tar the engine builds from) and the
engine's options, per recipe kind. Composed recipes send the composed Dockerfile, its files and
the artifact (with the shared package lists, see apt_index); Dockerfile recipes send the pinned
Dockerfile and the checked context archive (builds/dockerfile/context.py)."""
from adapters.engine import context_tar
from adapters.factory import registry_host
from builds.compose.build_stage import BUILD_SCRIPT, BUILD_STAGE
from builds.compose.composer import IMAGE_SCRIPT, STAGE_ONE
from builds.dockerfile.context import dockerfile_build_context, dockerfile_engine_options
from builds.models import Build, Recipe
from builds.runner.apt_index import apt_index_apply


def _kind(build: Build) -> str:
    return build.snapshot.get("kind") or Recipe.Kind.COMPOSED


def build_context(build: Build, script_stage_from: str = "", build_stage_from: str = "", on_line=None) -> bytes:
    """The first stage's context or, given the first stage's image id, the script stage's."""
    if _kind(build) == Recipe.Kind.DOCKERFILE:
        return dockerfile_build_context(build)
    return _composed_context(build, script_stage_from, build_stage_from, on_line)


def base_references(build: Build) -> list[str]:
    """Every catalog image the build starts FROM (host/repository@digest), for the engine to hold
    before it builds: the recipe's base and build-stage base, or a Dockerfile's pinned bases."""
    if _kind(build) == Recipe.Kind.DOCKERFILE:
        return sorted({f"{registry_host()}/{pinned}" for pinned in (build.snapshot.get("bases") or {}).values()})
    stage = build.snapshot.get("build_stage") or {}
    return sorted({ref for ref in (build.snapshot.get("base_reference"), stage.get("base_reference")) if ref})


def image_base_references(build: Build) -> list[str]:
    """The catalog images whose layers the built image starts with: the recipe's base, or a
    Dockerfile's pinned bases (not a build stage's base, which the image only copies files from)."""
    if _kind(build) == Recipe.Kind.DOCKERFILE:
        return base_references(build)
    return [build.snapshot["base_reference"]] if build.snapshot.get("base_reference") else []


def engine_options(build: Build) -> dict:
    """Extra arguments for the engine's build call (a Dockerfile recipe's file name and build args)."""
    return dockerfile_engine_options(build) if _kind(build) == Recipe.Kind.DOCKERFILE else {}


def _composed_context(build: Build, script_stage_from: str, build_stage_from: str, on_line) -> bytes:
    """The first stage's context (Dockerfile, parameter files, artifact) or, given the first
    stage's image id, the script stage's (its Dockerfile and the checked script only). With a build
    stage, the first stage copies from its image (`build_stage_from`) and gets no artifact."""
    if script_stage_from:
        dockerfile = build.script_stage.replace(f"FROM {STAGE_ONE}", f"FROM {script_stage_from}", 1)
        return context_tar({"Dockerfile": dockerfile.encode(), IMAGE_SCRIPT: build.context_files[IMAGE_SCRIPT].encode()})
    dockerfile = build.dockerfile
    if build.build_stage:
        dockerfile = dockerfile.replace(f"COPY --from={BUILD_STAGE} ", f"COPY --from={build_stage_from} ", 1)
    files = {path: text.encode() for path, text in build.context_files.items() if path != BUILD_SCRIPT}
    if on_line is not None:
        dockerfile = apt_index_apply(dockerfile, files, on_line)
    files["Dockerfile"] = dockerfile.encode()
    if build.snapshot.get("artifact") and not build.build_stage:
        name = build.snapshot["artifact"]["filename"]
        with build.recipe.artifact.open("rb") as handle:
            files[f"artifact/{name}"] = handle.read()
    return context_tar(files)
