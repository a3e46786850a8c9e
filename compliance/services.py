"""Compliance writes: record the SBOM of a pushed image and the policy verdict for a build."""
from django.db import transaction
from django.utils import timezone

from builds.models import Build
from catalog.models import BaseImage
from catalog.services import registry_client
from compliance.models import ImageScan, SbomPackage, Verdict
from compliance.policy import ApprovedBase, policy_evaluate
from compliance.sbom.models import ImageFacts
from compliance.sbom.reader import read_image
from portal.registry import RegistryError


def image_scan(*, build: Build) -> ImageScan:
    """Read the quarantined image's layers from the registry (no Docker Engine needed)."""
    scan, _ = ImageScan.objects.update_or_create(
        build=build, defaults={"digest": build.digest, "status": ImageScan.Status.SCANNING, "error": ""}
    )
    try:
        facts = read_image(registry_client(), build.quarantine_repository, build.digest)
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
        scan.os_id = facts.os.get("ID", "")
        scan.os_version = facts.os.get("VERSION_ID", "")
        scan.status, scan.finished = ImageScan.Status.DONE, timezone.now()
        scan.save()
    return scan


def approved_bases() -> list[ApprovedBase]:
    return [
        ApprovedBase(reference=f"{b.repository}@{b.digest}", layer_digests=list(b.layer_digests))
        for b in BaseImage.objects.filter(approved=True).exclude(digest="")
    ]


def verdict_evaluate(*, build: Build) -> Verdict:
    """Evaluate the policy on the build's scan and store the verdict with every rule's evidence."""
    facts = ImageFacts.from_dict(build.scan.facts)
    outcome = policy_evaluate(facts=facts, approved_bases=approved_bases())
    data = outcome.to_dict()
    return Verdict.objects.create(build=build, passed=data["passed"], results=data["results"])
