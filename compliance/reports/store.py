"""Store findings of a Trivy or Grype report on an image's scan (parsing: compliance/reports/parse.py).

Each vulnerability becomes an Advisory of source "trivy"/"grype" (a minimal OSV-shaped record,
no affected ranges, so the matcher never uses it), the importing team's own (Advisory.team: a
report cannot rewrite what another team's said), and each finding points at an SbomPackage:
the scan's own package when one has that name and version, else one made for the report with
no layer. Re-importing a tool's report replaces that tool's findings and nothing else.

The report's findings count like any other: the build's verdict is evaluated again at once (a
report that adds a fixable Critical blocks the image, and alerts its team when it was published).
"""
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from builds.models import Build
from compliance.models import Advisory, Finding, ImageScan, SbomPackage, Verdict
from compliance.policy.change import verdicts_reevaluate
from compliance.reports.parse import ExternalFinding, ReportError, parse_report, report_digests, report_os
from portal.audit import audit_record

__all__ = ["ImportRefused", "ReportError", "ReportImport", "external_report_import"]


class ImportRefused(Exception):
    """The report is readable but cannot go on this image now (in the API: 409)."""


@dataclass
class ReportImport:
    scan: ImageScan
    tool: str
    findings: int
    replaced: int
    packages_created: int
    advisories_created: int
    verdict: Verdict | None = None  # the build's verdict evaluated with the report's findings (None: no build)

    def to_dict(self) -> dict:
        verdict = None if self.verdict is None else {"id": self.verdict.pk, "state": self.verdict.state,
                                                      "passed": self.verdict.passed}
        return {"scan": self.scan.pk, "tool": self.tool, "findings": self.findings, "replaced": self.replaced,
                "packages_created": self.packages_created, "advisories_created": self.advisories_created,
                "verdict": verdict}


def external_report_import(*, tool: str, data, scan: ImageScan | None = None, build: Build | None = None,
                           actor=None, force: bool = False) -> ReportImport:
    """Replace `tool`'s findings on the scan (the build's, created if it has none) with the report's.

    Raises ReportError for an unreadable report, ImportRefused when the report names other image
    digests (unless `force`) or the image is still being scanned. Nothing is written then.
    """
    if (scan is None) == (build is None):
        raise ValueError("give a scan or a build")
    parsed = parse_report(tool, data)
    with transaction.atomic():
        scan = _scan_for(build, report_os(tool, data)) if build is not None else ImageScan.objects.select_for_update().get(pk=scan.pk)
        digests = report_digests(tool, data)
        if digests and scan.digest and scan.digest not in digests and not force:
            raise ImportRefused(f"The {tool} report is for {', '.join(sorted(digests))}, not this image "
                                f"({scan.digest}); import it with force to store it anyway.")
        stale = scan.findings.filter(advisory__source=tool)
        replaced = stale.count()
        stale.delete()
        scan.packages.filter(layer_index__isnull=True, findings__isnull=True).delete()  # the last import's own
        advisories, advisories_created = _advisories(tool, parsed, team=scan.build.team if scan.build_id else None)
        packages, packages_created = _packages(scan, parsed)
        Finding.objects.bulk_create([
            Finding(scan=scan, package=packages[_package_key(f)], advisory=advisories[f.vulnerability_id],
                    vulnerability_id=advisories[f.vulnerability_id].cve_id[:120], installed_version=f.installed_version[:200],
                    fixed_version=f.fixed_version[:200], severity=f.severity,
                    severity_source=(f"{tool}:{f.severity_source}" if f.severity_source else tool)[:60])
            for f in parsed
        ], batch_size=1000)
        target = scan.build or scan
        audit_record(actor=actor, action="report.imported", target=target, team=getattr(target, "team", None),
                     tool=tool, findings=len(parsed), scan=scan.pk)
    return ReportImport(scan=scan, tool=tool, findings=len(parsed), replaced=replaced,
                        packages_created=packages_created, advisories_created=advisories_created,
                        verdict=_verdict_after_import(scan))


def _verdict_after_import(scan: ImageScan) -> Verdict | None:
    """Evaluate the build's verdict again with the findings just stored (a build that never got
    as far as a verdict, still being built or failed, gets one from its pipeline, not from here)."""
    build = scan.build
    if build is None or build.status != Build.Status.SUCCEEDED or not build.verdicts.exists():
        return None
    verdicts_reevaluate([build], trigger="report-import")
    return build.verdicts.order_by("-created").first()


def _scan_for(build: Build, os: tuple[str, str]) -> ImageScan:
    scan = ImageScan.objects.select_for_update().filter(build=build).first()
    if scan is None:
        if not build.digest:
            raise ImportRefused(f"Build {build.pk} has no pushed image yet: there is nothing to attach a report to.")
        # The report is all that is known of this image: its OS comes from the report too.
        return ImageScan.objects.create(build=build, digest=build.digest, repository=build.quarantine_repository,
                                        os_id=os[0], os_version=os[1], status=ImageScan.Status.DONE,
                                        finished=timezone.now())
    if scan.status in (ImageScan.Status.QUEUED, ImageScan.Status.SCANNING):
        raise ImportRefused(f"Build {build.pk} is being scanned; import the report once its scan has finished.")
    return scan


def _advisories(tool: str, parsed: list[ExternalFinding], *, team) -> tuple[dict[str, Advisory], int]:
    """The team's advisory rows of the tool by vulnerability id: created, or updated when the
    report says more. Another team's rows of the same ids are never read nor written."""
    latest = {f.vulnerability_id: f for f in parsed}
    rows = {a.osv_id: a for a in Advisory.objects.filter(source=tool, osv_id__in=latest, team=team)}
    now = timezone.now()
    created = [Advisory(source=tool, osv_id=vid, modified=now, aliases=list(f.aliases), summary=f.title[:2000],
                        record=f.record(), team=team) for vid, f in latest.items() if vid not in rows]
    for row in Advisory.objects.bulk_create(created):
        rows[row.osv_id] = row
    for vid, row in rows.items():
        record = latest[vid].record()
        if row.record != record:
            row.record, row.aliases, row.summary, row.modified = record, record["aliases"], record["summary"][:2000], now
            row.save(update_fields=["record", "aliases", "summary", "modified"])
    return rows, len(created)


def _package_key(finding: ExternalFinding) -> tuple[str, str, str]:
    return finding.package_type, finding.package_name, finding.installed_version


def _packages(scan: ImageScan, parsed: list[ExternalFinding]) -> tuple[dict[tuple, SbomPackage], int]:
    """The scan's package for each finding: same type, name and version, else same name and
    version (tools spell types their own way), else a new one without a layer."""
    by_type, by_name = {}, {}
    for package in scan.packages.all():
        by_type.setdefault((package.type, package.name, package.version), package)
        by_name.setdefault((package.name, package.version), package)
    found, missing = {}, {}
    for finding in parsed:
        key = _package_key(finding)
        package = by_type.get(key) or by_name.get(key[1:])
        if package is not None:
            found[key] = package
        elif key not in missing:
            missing[key] = SbomPackage(scan=scan, type=key[0][:20], name=key[1][:200], version=key[2][:200],
                                       source_name=finding.source_package[:200], layer_index=None)
    for key, package in zip(missing, SbomPackage.objects.bulk_create(missing.values())):
        found[key] = package
    return found, len(missing)

