"""The worker's side of the build stage: assemble its context (Dockerfile, checked build-env.sh,
the checked package unpacked), build it with the team's network setting, and remove every image it
made afterwards, also when it failed or was cancelled (each of its layers carries a label naming the
build, so a search by label finds them all)."""
import io
import secrets
import tarfile
import time

from adapters.engine import images_remove_with_label, images_with_label
from builds.archive.package import archive_extract_to_tar
from builds.compose.build_stage import BUILD_SCRIPT, PACKAGE_DIR, STAGE_LABEL, STAGE_LABEL_VALUE
from builds.models import Build
from builds.team_scripts.packages import is_archive


def build_stage_run_id(build: Build) -> str:
    """The label value for one run of one build: build ids repeat across portal databases sharing
    an engine (and a retried build reuses its id), so a random part keeps cleanup to our images."""
    return f"{build.pk}-{secrets.token_hex(6)}"


def build_stage_dockerfile(build: Build, run_id: str) -> str:
    return build.build_stage.replace(f"LABEL {STAGE_LABEL}={STAGE_LABEL_VALUE}", f"LABEL {STAGE_LABEL}={run_id}", 1)


def build_stage_context(build: Build, run_id: str) -> bytes:
    """Dockerfile, the script and the package under `package/`, re-packed from the checked bytes:
    the engine never reads the uploaded archive itself."""
    files = {"Dockerfile": build_stage_dockerfile(build, run_id).encode()}
    if BUILD_SCRIPT in build.context_files:
        files[BUILD_SCRIPT] = build.context_files[BUILD_SCRIPT].encode()
    artifact = build.snapshot["artifact"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            _add(tar, path, files[path])
        with build.recipe.artifact.open("rb") as handle:
            if is_archive(handle):
                archive_extract_to_tar(handle, filename=artifact["filename"], out=tar, prefix=f"{PACKAGE_DIR}/",
                                       expected_sha256=artifact["sha256"])
            else:
                _add(tar, f"{PACKAGE_DIR}/{artifact['filename']}", handle.read())
    return buffer.getvalue()


def _add(tar, path, data):
    info = tarfile.TarInfo(path)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def scripts_network_mode(build: Build) -> str | None:
    """The network of both script stages (build-env and image-env). None is the engine's default
    bridge: only for a team the platform admins granted it when the build was requested."""
    return None if build.snapshot.get("scripts_network") else "none"


def build_stage_cleanup(run_id: str) -> int:
    return images_remove_with_label(label=STAGE_LABEL, value=run_id)


def build_stage_orphans_remove(*, older_than_seconds: float, now: float | None = None) -> int:
    """Remove build-stage images left by a run that never cleaned up (its worker was killed).

    Runs on the build worker, since each engine has its own images. Only runs whose newest layer is
    older than any build can last are touched, so a build running right now is never hit."""
    now = time.time() if now is None else now
    newest: dict[str, int] = {}
    for image in images_with_label(label=STAGE_LABEL):
        run_id = (image.get("Labels") or {}).get(STAGE_LABEL, "")
        newest[run_id] = max(newest.get(run_id, 0), image.get("Created", 0))
    stale = [run_id for run_id, created in newest.items() if run_id and created < now - older_than_seconds]
    return sum(images_remove_with_label(label=STAGE_LABEL, value=run_id) for run_id in stale)


def build_stage_failure_part(failed_step: str) -> str:
    """Which of the team's parts a failed build-stage step ran, in the words of the recipe page."""
    if "build-env.sh" in failed_step:
        return "the package's .paas/build-env.sh"
    if "RUN [" in failed_step:
        return "the build command"
    return "a step"
