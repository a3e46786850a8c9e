"""The periodic engine sweep: whatever the portal labelled on the engine that no live build owns.

The worker cleans up after each build (builds/runner/layers.py), but a worker killed at the wrong
moment, an engine that refused a removal or a bug leaves images behind. The sweep (Celery beat,
ENGINE_SWEEP_INTERVAL_SECONDS; `manage.py engine_sweep [--dry-run]`) lists the images carrying
the portal's build label (a build's final image) or build-stage label (every layer of a build
stage), and removes each whose build is neither queued nor running, once it is older than
ENGINE_SWEEP_GRACE_SECONDS. The grace also protects other portal databases sharing the engine
(their build ids collide with ours): no build's image is needed for longer than a build lasts.
Kept on purpose: images the engine pulled from the published repositories (custom bases carry
the label of the build that made them) and layer-cache names younger than
ENGINE_LAYER_CACHE_MAX_AGE_SECONDS.

Runs on a build worker: each engine has its own images (one sweep per build queue).
"""
import time
from dataclasses import dataclass, field

from django.conf import settings

from adapters.engine import BUILD_LABEL, image_name_drop, images_named, images_remove_forced, images_with_label
from adapters.factory import registry_host
from builds.compose.build_stage import STAGE_LABEL
from builds.models import Build
from builds.runner.layers import CACHE_REPOSITORY

LIVE = (Build.Status.QUEUED, Build.Status.RUNNING)


@dataclass
class SweepReport:
    """What one sweep found; ids are the engine's full image ids."""

    dry_run: bool
    removed: list[str] = field(default_factory=list)  # or, on a dry run, would be removed
    kept_live: list[str] = field(default_factory=list)
    kept_recent: list[str] = field(default_factory=list)
    kept_published: list[str] = field(default_factory=list)
    cache_dropped: list[str] = field(default_factory=list)
    owners: dict[str, int | None] = field(default_factory=dict)

    def counts(self) -> dict:
        return {name: len(getattr(self, name)) for name in
                ("removed", "kept_live", "kept_recent", "kept_published", "cache_dropped")} | {"dry_run": self.dry_run}


def portal_images() -> list[dict]:
    """Every image carrying one of the portal's build labels, once each."""
    found = {}
    for label in (BUILD_LABEL, STAGE_LABEL):
        for image in images_with_label(label=label):
            found.setdefault(image["Id"], image)
    return list(found.values())


def image_owner(image: dict) -> int | None:
    """The build id an image's label names (a build-stage label is `<build id>-<run>`)."""
    labels = image.get("Labels") or {}
    value = labels.get(BUILD_LABEL) or labels.get(STAGE_LABEL, "").split("-", 1)[0]
    return int(value) if value and value.isdigit() else None


def _pulled_from_published(image: dict) -> bool:
    prefix = f"{registry_host()}/{settings.PUBLISHED_REPOSITORY_PREFIX}/"
    return any(digest.startswith(prefix) for digest in image.get("RepoDigests") or [])


def engine_sweep(*, dry_run: bool = False, grace_seconds: float | None = None, now: float | None = None) -> SweepReport:
    now = time.time() if now is None else now
    grace = settings.ENGINE_SWEEP_GRACE_SECONDS if grace_seconds is None else grace_seconds
    report = SweepReport(dry_run=dry_run)
    images = portal_images()
    report.owners = {image["Id"]: image_owner(image) for image in images}
    owners = {owner for owner in report.owners.values() if owner is not None}
    live = set(Build.objects.filter(pk__in=owners, status__in=LIVE).values_list("pk", flat=True))
    doomed = []
    for image in images:
        if report.owners[image["Id"]] in live:
            report.kept_live.append(image["Id"])
        elif image.get("Created", 0) > now - grace:
            report.kept_recent.append(image["Id"])
        elif _pulled_from_published(image):
            report.kept_published.append(image["Id"])
        else:
            doomed.append(image)
    report.removed = [image["Id"] for image in doomed] if dry_run else images_remove_forced(images=doomed)
    for image in images_named(repository=CACHE_REPOSITORY):
        if image.get("Created", 0) < now - settings.ENGINE_LAYER_CACHE_MAX_AGE_SECONDS:
            for reference in image.get("RepoTags") or []:
                if reference.startswith(f"{CACHE_REPOSITORY}:"):
                    report.cache_dropped.append(reference)
                    if not dry_run:
                        image_name_drop(reference=reference)
    return report
