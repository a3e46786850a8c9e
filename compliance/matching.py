"""Match a scan's SBOM against the stored advisories and record graded findings.

OS packages are matched by (release ecosystem, SOURCE package) comparing source versions, as
Debian and Alpine advisories name source packages; language packages by their canonical name.
One query fetches every candidate advisory for the whole SBOM.
"""
import re
from collections import defaultdict

from django.db import transaction

from compliance.models import AffectedPackage, Finding, ImageScan, SbomPackage
from compliance.vulndb.osv_range import fixed_versions, osv_affects_safe
from compliance.vulndb.severity import grade


def pypi_canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_coordinates(scan: ImageScan, package: SbomPackage) -> tuple[str, str, str] | None:
    """(OSV ecosystem, package name, version) under which advisories name this package."""
    if package.type == "deb" and scan.os_id == "debian" and scan.os_version:
        return f"Debian:{scan.os_version.split('.')[0]}", package.source_name or package.name, package.source_version or package.version
    if package.type == "apk" and scan.os_id == "alpine" and scan.os_version:
        major_minor = ".".join(scan.os_version.split(".")[:2])
        return f"Alpine:v{major_minor}", package.source_name or package.name, package.version
    if package.type == "pypi":
        return "PyPI", pypi_canonical(package.name), package.version
    if package.type == "maven":
        return "Maven", package.name, package.version
    if package.type == "npm":
        return "npm", package.name, package.version
    return None


def _first_fix(affected: AffectedPackage, ecosystem: str, version: str) -> str:
    """The lowest fixed version above the installed one ('' when there is none)."""
    from compliance.vulndb.versions import comparator_for

    key = comparator_for(ecosystem)
    candidates = []
    for fixed in fixed_versions({"ranges": affected.ranges}):
        try:
            if key(fixed) > key(version):
                candidates.append(fixed)
        except ValueError:
            continue
    return min(candidates, key=key) if candidates else ""


def scan_match(scan: ImageScan) -> list[Finding]:
    """Replace the scan's findings with a fresh match against the current database."""
    wanted = defaultdict(list)
    for package in scan.packages.all():
        coordinates = package_coordinates(scan, package)
        if coordinates:
            ecosystem, name, version = coordinates
            wanted[(ecosystem, name)].append((package, version))
    candidates = AffectedPackage.objects.filter(
        ecosystem__in={e for e, _ in wanted}, name__in={n for _, n in wanted}, advisory__withdrawn__isnull=True,
    ).select_related("advisory")
    findings = []
    for affected in candidates:
        for package, version in wanted.get((affected.ecosystem, affected.name), []):
            hit, _warnings = osv_affects_safe({"ranges": affected.ranges, "versions": affected.versions}, version, affected.ecosystem)
            if not hit:
                continue
            record = affected.advisory.record
            severity, source = grade(
                vendor_urgency=affected.ecosystem_specific.get("urgency"),
                record_severity=affected.severity or record.get("severity", []),
                database_specific={**record.get("database_specific", {}), **affected.database_specific},
            )
            findings.append(Finding(
                scan=scan, package=package, advisory=affected.advisory, vulnerability_id=affected.advisory.cve_id,
                installed_version=version, fixed_version=_first_fix(affected, affected.ecosystem, version),
                severity=severity.label, severity_source=source,
            ))
    with transaction.atomic():
        scan.findings.all().delete()
        Finding.objects.bulk_create(findings, batch_size=1000)
    return findings
