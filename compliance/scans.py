"""Record the SBOM of a build's pushed image, read from the registry (no engine needed), or copy it
from an earlier build of the same image digest."""
import zlib

from django.db import transaction
from django.utils import timezone

from adapters.factory import registry_client
from adapters.registry import RegistryError
from builds.models import Build
from compliance.models import ImageScan, SbomPackage
from compliance.sbom.cyclonedx import cyclonedx_json
from compliance.sbom.models import ImageFacts
from compliance.sbom.reader import read_image
from compliance.scanned_layers import ScannedLayerStore


def image_scan(*, build: Build) -> ImageScan:
    """Read the quarantined image's layers from the registry (no Docker Engine needed); a layer
    read by an earlier scan (its base's, most often) is replayed from its record instead."""
    scan, _ = ImageScan.objects.update_or_create(
        build=build, defaults={"digest": build.digest, "repository": build.quarantine_repository,
                               "status": ImageScan.Status.SCANNING, "error": ""}
    )
    try:
        facts = read_image(registry_client("scanner"), build.quarantine_repository, build.digest,
                           records=ScannedLayerStore())
    except (RegistryError, OSError, ValueError) as error:
        scan.status, scan.error, scan.finished = ImageScan.Status.FAILED, str(error), timezone.now()
        scan.save()
        return scan
    with transaction.atomic():
        scan.packages.all().delete()
        SbomPackage.objects.bulk_create(
            SbomPackage(
                scan=scan, type=p.type, name=p.name, version=p.version, source_name=p.source_name,
                source_version=p.source_version, architecture=p.architecture, layer_index=p.layer_index,
            )
            for p in facts.packages
        )
        scan.facts = facts.to_dict()
        scan.cyclonedx = zlib.compress(cyclonedx_json(facts).encode())
        scan.os_id = facts.os.get("ID", "")
        scan.os_version = facts.os.get("VERSION_ID", "")
        scan.status, scan.finished = ImageScan.Status.DONE, timezone.now()
        scan.save()
    return scan


def scan_reusable(source: Build) -> bool:
    """Whether `source` has a finished scan holding every fact today's rules read. A scan stored
    before the privilege facts existed does not: the privilege rules would fail it closed, so an
    identical image is read again rather than inherit that."""
    return _current(ImageScan.objects.filter(build=source).first())


def _current(scan: ImageScan | None) -> bool:
    return scan is not None and scan.status == ImageScan.Status.DONE and scan.facts.get("privileges") is not None


def scan_reuse(*, build: Build, source: Build) -> ImageScan:
    """The same image (same digest) has the same SBOM: copy the earlier scan instead of reading
    the layers again, unless that scan is not current (then read this build's image afresh).
    Findings are matched afresh against today's database."""
    original = ImageScan.objects.filter(build=source).first()
    if not _current(original):
        return image_scan(build=build)
    with transaction.atomic():
        ImageScan.objects.filter(build=build).delete()
        scan = ImageScan.objects.create(
            build=build, digest=build.digest, repository=build.quarantine_repository, status=original.status,
            os_id=original.os_id, os_version=original.os_version, facts=original.facts, cyclonedx=original.cyclonedx,
            finished=timezone.now())
        SbomPackage.objects.bulk_create(
            SbomPackage(scan=scan, type=p.type, name=p.name, version=p.version, source_name=p.source_name,
                        source_version=p.source_version, architecture=p.architecture, layer_index=p.layer_index)
            for p in original.packages.all()
        )
    return scan


def scan_cyclonedx(scan: ImageScan) -> str:
    """The scan's CycloneDX JSON: as stored at scan time, or made now for a scan stored before."""
    if scan.cyclonedx:
        return zlib.decompress(bytes(scan.cyclonedx)).decode()
    return cyclonedx_json(ImageFacts.from_dict(scan.facts))
