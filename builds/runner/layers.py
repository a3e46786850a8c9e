"""Remove the images a finished build left on the engine.

The engine keeps every finished step of a build as an image, and the build's final image under a
local name until it is pushed. Once the build has ended (failed, cancelled, crashed, or pushed and
done), none of them is needed: scan and publication read the registry. Left alone they pile up as
dangling images. Their ids are read back from the build's stored log (the worker may have died, so
memory is not enough; the engine's build label is only on the final image).

One exception is kept on purpose, as the engine's layer cache: in a published build, the steps up
to its last package transaction (apt-get install / apk add), which the composer orders so that
other recipes on the same base reuse them (builds/compose/shared_layers.py). The top of that prefix
gets a local name in CACHE_REPOSITORY, so it is a named image, not a dangling one.
"""
import logging
import re

from django.conf import settings

from adapters.engine import (
    EngineError,
    StepImage,
    dangling_images_remove,
    image_tag_keep,
    image_untag_if_ours,
    step_images_from_log,
    step_images_read,
)
from adapters.factory import registry_host
from builds.models import Build, BuildLogChunk

log = logging.getLogger(__name__)
CACHE_REPOSITORY = "portal-layer-cache"
PACKAGE_TRANSACTION = re.compile(r"\bapt-get\b.*\binstall\b|\bapk\b.*\badd\b")


def _log_text(build_ids) -> str:
    chunks = BuildLogChunk.objects.filter(build_id__in=build_ids, step="build").order_by("build_id", "seq")
    return "".join(chunks.values_list("text", flat=True))


def package_layer_tips(steps: list[StepImage]) -> list[str]:
    """Per engine build in the log, the image of its last package-transaction step (the top of the
    layers other recipes can share); none for a run without one."""
    tips: dict[int, str] = {}
    for step in steps:
        if PACKAGE_TRANSACTION.search(step.instruction):
            tips[step.run] = step.image_id
    return list(tips.values())


def _local_names(build: Build) -> list[str]:
    names = [f"portal-build-{build.pk}:latest", f"portal-build-{build.pk}-stage-one:latest"]
    if build.quarantine_repository and build.quarantine_tag:
        names.append(f"{registry_host()}/{build.quarantine_repository}:{build.quarantine_tag}")
    return names


def build_layers_clean(*, build: Build) -> list[str]:
    """Remove this finished build's local names and step images that no other image, tag or
    container holds; returns the ids removed.

    Never a running build's: ids seen in a running build's log are skipped, and the engine itself
    refuses images a build container or a child image uses (nothing is forced).
    """
    if build.status not in Build.DONE:
        return []
    steps = step_images_read(_log_text([build.pk]))
    if not steps:
        return []  # failed before its first step finished, or reused another build's image
    running = Build.objects.filter(status=Build.Status.RUNNING).exclude(pk=build.pk).values_list("pk", flat=True)
    in_use = set(step_images_from_log(_log_text(list(running))))
    own = [step.image_id for step in steps]
    try:
        for reference in _local_names(build):
            image_untag_if_ours(reference=reference, image_ids=set(own))
        published = Build.objects.filter(pk=build.pk).exclude(published_reference="").exists()
        if published and settings.ENGINE_LAYER_CACHE:
            for tip in package_layer_tips(steps):
                try:
                    image_tag_keep(image_id=tip, repository=CACHE_REPOSITORY)
                except EngineError as error:  # gone already: nothing to keep, the rest still goes
                    log.info("build %s: layer cache %s not kept: %s", build.pk, tip, error)
        removed = dangling_images_remove(image_ids=[image_id for image_id in own if image_id not in in_use])
    except EngineError as error:  # cleanup must never turn a finished build into a crash
        log.warning("build %s: leftover step images not removed: %s", build.pk, error)
        return []
    if removed:
        log.info("build %s: removed %d leftover step images", build.pk, len(removed))
    return removed
