"""The registry's periodic garbage collection, in quarantine only: published/ is never touched.

What piles up in quarantine: manifests no tag and no build points at (a build retried under the
same tag pushes a new manifest and leaves the old one untagged), and upload sessions a push
abandoned (a worker killed mid-push, a registry restart). This pass, on the registry's host
(REGISTRY_STORAGE_DIR, the registry's filesystem rootdirectory), reads quarantine's repositories
from the storage and:

- deletes, through the registry API as the `cleanup` identity (whose tokens grant delete in
  quarantine only), each manifest that no tag points at, that no build of this portal recorded
  (its digest), that no kept manifest list names, and that was put more than
  REGISTRY_GC_GRACE_SECONDS ago (a push in progress links its manifest before its tag);
- removes upload sessions started more than REGISTRY_UPLOAD_MAX_AGE_SECONDS ago (no API call can
  cancel another client's upload; the registry's own purger does the same, but starts up to an
  hour late and defaults to a week).

Blob space is given back only by the registry's own offline `garbage-collect` (registry stopped or
read-only), an operator's maintenance step (README).
"""
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings

from adapters.factory import registry_client
from adapters.registry import RegistryError
from adapters.registry_storage import RegistryStorage
from builds.models import Build

log = logging.getLogger(__name__)


@dataclass
class RegistryGcReport:
    dry_run: bool
    skipped: str = ""
    manifests_deleted: list[str] = field(default_factory=list)  # repository@digest (or would be, on a dry run)
    uploads_removed: list[str] = field(default_factory=list)  # repository/_uploads/uuid
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {"manifests_deleted": len(self.manifests_deleted), "uploads_removed": len(self.uploads_removed),
                "errors": len(self.errors), "dry_run": self.dry_run, "skipped": self.skipped}


def _quarantine() -> str:
    prefix = settings.QUARANTINE_REPOSITORY_PREFIX.strip("/")
    if not prefix or prefix == settings.PUBLISHED_REPOSITORY_PREFIX.strip("/"):
        raise ValueError("QUARANTINE_REPOSITORY_PREFIX must be set and differ from the published prefix")
    return prefix


def registry_gc(*, dry_run: bool = False, now: float | None = None) -> RegistryGcReport:
    now = time.time() if now is None else now
    report = RegistryGcReport(dry_run=dry_run)
    storage = RegistryStorage(settings.REGISTRY_STORAGE_DIR) if settings.REGISTRY_STORAGE_DIR else None
    if storage is None or not storage.exists():
        report.skipped = (f"no registry storage at {settings.REGISTRY_STORAGE_DIR!r} (REGISTRY_STORAGE_DIR): "
                          "run the collection on the registry's host")
        log.warning("registry gc: %s", report.skipped)
        return report
    prefix = _quarantine()
    recorded = set(Build.objects.filter(quarantine_repository__startswith=f"{prefix}/").exclude(digest="")
                   .values_list("quarantine_repository", "digest"))
    client = registry_client("cleanup")
    for repository in storage.repositories(prefix):
        if not repository.startswith(f"{prefix}/"):  # never outside quarantine, whatever the storage holds
            continue
        revisions = storage.revisions(repository)
        keep = {digest for digest in revisions if (repository, digest) in recorded} | storage.tagged(repository)
        for digest in list(keep):
            keep |= storage.manifest_children(digest)
        for digest, linked in sorted(revisions.items()):
            if digest in keep or linked > now - settings.REGISTRY_GC_GRACE_SECONDS:
                continue
            try:
                if not dry_run:
                    client.manifest_delete(repository, digest)
                report.manifests_deleted.append(f"{repository}@{digest}")
            except RegistryError as error:
                report.errors.append(f"{repository}@{digest}: {error}")
        for session in storage.uploads(repository):
            if session.started < now - settings.REGISTRY_UPLOAD_MAX_AGE_SECONDS:
                if not dry_run:
                    storage.upload_remove(session)
                report.uploads_removed.append(f"{repository}/_uploads/{session.uuid}")
    client.close()
    if report.manifests_deleted or report.uploads_removed or report.errors:
        log.warning("registry gc: %s", report.counts())
    return report
