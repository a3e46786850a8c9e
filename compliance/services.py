"""Compliance writes: record the SBOM of a pushed image and the policy verdict for a build."""
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builds.models import Build
from catalog.models import BaseImage
from catalog.services import registry_client
from compliance.models import ImageScan, SbomPackage, Verdict
from compliance.policy import ApprovedBase, policy_evaluate
from compliance.policy_vulns import rule_vulnerability_threshold
from compliance.vulndb_store import database_version
from compliance.sbom.models import ImageFacts
from compliance.sbom.reader import read_image
from portal.registry import RegistryError


def image_scan(*, build: Build) -> ImageScan:
    """Read the quarantined image's layers from the registry (no Docker Engine needed)."""
    scan, _ = ImageScan.objects.update_or_create(
        build=build, defaults={"digest": build.digest, "repository": build.quarantine_repository,
                               "status": ImageScan.Status.SCANNING, "error": ""}
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


def findings_as_dicts(scan) -> list[dict]:
    return [
        {"vulnerability_id": f.vulnerability_id, "severity": f.severity, "fixed_version": f.fixed_version,
         "installed_version": f.installed_version, "package": f.package.name}
        for f in scan.findings.select_related("package")
    ]


def verdict_evaluate(*, build: Build, trigger: str = "build") -> Verdict:
    """Evaluate every rule on the build's scan and findings; store the verdict with its evidence
    and the database version it was computed against."""
    facts = ImageFacts.from_dict(build.scan.facts)
    outcome = policy_evaluate(facts=facts, approved_bases=approved_bases())
    results = [r.to_dict() for r in outcome.results]
    results.append(rule_vulnerability_threshold(
        findings_as_dicts(build.scan), block=set(settings.POLICY_BLOCK_SEVERITIES),
        fixable_only=settings.POLICY_BLOCK_FIXABLE_ONLY).to_dict())
    return Verdict.objects.create(
        build=build, passed=all(r["status"] == "pass" for r in results), results=results,
        database_version=database_version(), trigger=trigger)
