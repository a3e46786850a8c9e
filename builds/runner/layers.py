"""Remove the step images a failed or cancelled build left on the engine.

The engine keeps every finished step of a build as an image so later builds can reuse it; when the
build fails or is cancelled, the images of its own steps pile up as dangling images. Their ids are
read back from the build's stored log (the worker may have died, so memory is not enough).
"""
import logging

from adapters.engine import EngineError, dangling_images_remove, step_images_from_log
from builds.models import Build, BuildLogChunk

log = logging.getLogger(__name__)
FINISHED_UNBUILT = (Build.Status.FAILED, Build.Status.CANCELLED)


def _log_text(build_ids) -> str:
    chunks = BuildLogChunk.objects.filter(build_id__in=build_ids, step="build").order_by("build_id", "seq")
    return "".join(chunks.values_list("text", flat=True))


def build_layers_clean(*, build: Build) -> list[str]:
    """Remove this finished build's step images that no other image, tag or container holds.

    Never a running build's: ids seen in a running build's log are skipped, and the engine itself
    refuses images a build container or a child image uses (nothing is forced).
    """
    if build.status not in FINISHED_UNBUILT:
        return []
    running = Build.objects.filter(status=Build.Status.RUNNING).exclude(pk=build.pk).values_list("pk", flat=True)
    in_use = set(step_images_from_log(_log_text(list(running))))
    own = [i for i in step_images_from_log(_log_text([build.pk])) if i not in in_use]
    if not own:
        return []  # failed before its first step finished: nothing to ask the engine
    try:
        removed = dangling_images_remove(image_ids=own)
    except EngineError as error:  # cleanup must never turn a finished build into a crash
        log.warning("build %s: leftover step images not removed: %s", build.pk, error)
        return []
    if removed:
        log.info("build %s: removed %d leftover step images", build.pk, len(removed))
    return removed
