"""Scans Harbor asks for: an artifact in Harbor's registry, read with the credentials Harbor sends.

The Authorization value Harbor hands over is a short-lived robot credential: it is kept sealed
beside the scan until the scan ends (compliance/harbor/credentials.py), and the worker looks it
up by the scan's id; the Celery message carries nothing else.
"""
import base64
import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adapters.registry import RegistryClient, RegistryError
from compliance.harbor.credentials import (
    CredentialUnavailable,
    scan_credential_forget,
    scan_credential_read,
    scan_credential_store,
    scan_credentials_prune,
)
from compliance.models import ImageScan, SbomPackage
from compliance.sbom.reader import read_image
from compliance.scanned_layers import ScannedLayerStore
from compliance.vulndb.matching import scan_match

log = logging.getLogger(__name__)


class _PresetTokenClient(RegistryClient):
    """A RegistryClient that starts with the bearer token Harbor issued (and still follows a
    registry's challenge if that token is refused)."""

    def __init__(self, base_url: str, token: str):
        super().__init__(base_url)
        self._token = token


def registry_client_for(url: str, authorization: str = "") -> RegistryClient:
    """A client for `url` authenticating as Harbor's `registry.authorization` says:
    "Basic <base64 user:password>" (exchanged for a token on a challenge) or "Bearer <token>"."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return _PresetTokenClient(url, value.strip())
    if scheme.lower() == "basic" and value.strip():
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as error:
            raise RegistryError("the registry authorization is not valid Basic credentials") from error
        return RegistryClient(url, username=user, password=password)
    return RegistryClient(url)


@transaction.atomic
def registry_artifact_scan_request(*, registry_url: str, artifact: dict, authorization: str = "") -> ImageScan:
    """Record a queued scan of `artifact` (Harbor's Artifact object) with the credential to read it
    (kept sealed, apart from the scan's facts); compliance.tasks sends the scan's id."""
    scan = ImageScan.objects.create(
        registry=registry_url.rstrip("/"), repository=artifact["repository"], digest=artifact["digest"],
        status=ImageScan.Status.QUEUED, facts={"harbor": {"artifact": artifact, "credential": bool(authorization)}},
    )
    scan_credential_store(scan=scan, authorization=authorization)
    return scan


def registry_artifact_scan(*, scan: ImageScan) -> ImageScan:
    """Read the image from its registry, record its SBOM, match it, and mark the scan done or
    failed. Runs once: a scan no longer queued (a redelivered message) is left as it is; the
    credential is deleted once the scan ends, whatever its end."""
    claimed = ImageScan.objects.filter(pk=scan.pk, status=ImageScan.Status.QUEUED).update(
        status=ImageScan.Status.SCANNING)
    scan.refresh_from_db()
    if not claimed:
        return scan
    try:
        _scan_read(scan)
    finally:
        scan_credential_forget(scan)
    return scan


def _scan_read(scan: ImageScan) -> None:
    try:
        authorization = scan_credential_read(scan, sent=scan.facts.get("harbor", {}).get("credential", False))
        client = registry_client_for(scan.registry, authorization)
        try:
            facts = read_image(client, scan.repository, scan.digest, records=ScannedLayerStore(source=scan.registry))
        finally:
            client.close()
        with transaction.atomic():
            scan.packages.all().delete()
            SbomPackage.objects.bulk_create(
                SbomPackage(scan=scan, type=p.type, name=p.name, version=p.version, source_name=p.source_name,
                            source_version=p.source_version, architecture=p.architecture, layer_index=p.layer_index)
                for p in facts.packages
            )
            scan.facts = {**facts.to_dict(), "harbor": scan.facts.get("harbor", {})}
            scan.os_id, scan.os_version = facts.os.get("ID", ""), facts.os.get("VERSION_ID", "")
            scan.save()
            scan_match(scan)
            scan.status, scan.finished = ImageScan.Status.DONE, timezone.now()
            scan.save(update_fields=["status", "finished"])
    except (RegistryError, OSError, ValueError, CredentialUnavailable) as error:
        _fail(scan, str(error))
    except SoftTimeLimitExceeded:
        _fail(scan, "the scan took too long and was stopped")
    except Exception as error:  # Harbor polls until 200 or 500: never leave a scan running
        log.exception("scan %s of %s@%s failed", scan.pk, scan.repository, scan.digest)
        _fail(scan, f"internal error: {type(error).__name__}")


def _fail(scan: ImageScan, message: str) -> None:
    scan.status, scan.error, scan.finished = ImageScan.Status.FAILED, message[:2000], timezone.now()
    scan.save(update_fields=["status", "error", "finished"])


def harbor_scans_prune(*, now=None) -> int:
    """Delete the scans Harbor asked for (no build of ours) older than the retention: Harbor
    fetched its report long ago and keeps it; ours would only grow the findings table and be
    re-matched after every import. A later request for the same digest simply scans again."""
    scan_credentials_prune(now=now)
    cutoff = (now or timezone.now()) - timedelta(days=settings.HARBOR_SCAN_RETENTION_DAYS)
    # Packages and findings go with their scan (CASCADE); delete() counts per model.
    _, deleted = ImageScan.objects.filter(build__isnull=True, created__lt=cutoff).delete()
    count = deleted.get(ImageScan._meta.label, 0)
    if count:
        log.info("deleted %d Harbor scans older than %d days", count, settings.HARBOR_SCAN_RETENTION_DAYS)
    return count
