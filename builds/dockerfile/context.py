"""The build context and engine options of a Dockerfile recipe's build (worker side; the runner
asks for them by recipe kind, builds/runner/context.py).

The team's archive is never handed to the engine: `archive_extract_to_tar` re-packs the members it
checked into the context tar, after our pinned Dockerfile. The archive's root is the context's
root, as with `docker build - < context.tar.gz`.
"""
import io
import tarfile

from django.core.files.storage import default_storage

from builds.archive.package import FIXED_MTIME, ArchiveError, archive_extract_to_tar
from builds.dockerfile.services import DOCKERFILE_NAME, context_limits
from builds.errors import StepFailed
from builds.models import Build


def dockerfile_build_context(build: Build) -> bytes:
    """The pinned Dockerfile plus the checked context, exactly the bytes checked at save time."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = build.dockerfile.encode()
        info = tarfile.TarInfo(DOCKERFILE_NAME)
        info.size, info.mode, info.mtime = len(data), 0o644, FIXED_MTIME
        tar.addfile(info, io.BytesIO(data))
        context = build.snapshot.get("context")
        if context:
            try:
                with default_storage.open(context["path"], "rb") as handle:
                    archive_extract_to_tar(handle, filename=context["filename"], limits=context_limits(), out=tar,
                                           prefix="", expected_sha256=context["sha256"])
            except (ArchiveError, FileNotFoundError) as error:
                raise StepFailed("build:user:context", f"The build context could not be used: {error}")
    return buffer.getvalue()


def dockerfile_engine_options(build: Build) -> dict:
    """Extra arguments for the engine's build call: our Dockerfile's name and the build arguments."""
    return {"dockerfile": DOCKERFILE_NAME, "buildargs": dict(build.snapshot.get("build_args") or {})}
