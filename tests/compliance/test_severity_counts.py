"""The per-scan severity counts the security overview and the images list add up (ScanSeverityCount,
kept by triggers on the findings) equal a fresh count of the findings after every way findings
change: a scan matched, an import re-matching the fleet (rows added by COPY, rows deleted), a
record withdrawn, a scanner's report imported and replaced, an exception applied (it changes no
count: the overview counts excepted findings too), a package removed by a re-scan, an advisory
deleted, findings moved by an UPDATE, and the scan deleted."""
import copy
import datetime

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from compliance.models import Advisory, Finding, ImageScan, PolicyException, SbomPackage, ScanSeverityCount
from compliance.policy.change import verdicts_reevaluate
from compliance.reports.store import external_report_import
from compliance.vulndb.matching import scan_match
from compliance.vulndb.reevaluation import reevaluate_after_import
from compliance.vulndb.store import vulndb_import
from tests.compliance.fleet import findings_move
from tests.compliance.reports.test_parse_and_store import TRIVY
from tests.compliance.vulndb.test_reevaluation import CRITICAL, published, webhook  # noqa: F401 (fixtures)
from tests.compliance.vulndb.test_store import osv, write

pytestmark = pytest.mark.django_db


def fresh() -> dict:
    """(scan, severity) -> (findings, fixable findings), counted from the findings themselves."""
    rows = Finding.objects.order_by().values("scan_id", "severity").annotate(
        total=Count("id"), fixable=Count("id", filter=~Q(fixed_version="")))
    return {(r["scan_id"], r["severity"]): (r["total"], r["fixable"]) for r in rows}


def kept() -> dict:
    return {(c.scan_id, c.severity): (c.total, c.fixable) for c in ScanSeverityCount.objects.all()}


def assert_counts_kept(what: str) -> dict:
    connection.check_constraints()  # the test's transaction never commits: check the deferred foreign keys now
    assert kept() == fresh(), what
    return kept()


def test_the_kept_counts_equal_a_fresh_count_after_every_change_of_findings(tmp_path, published, member, reviewer):  # noqa: F811
    scan = published.scan
    other = ImageScan.objects.create(digest="sha256:" + "9" * 64, status="done", os_id="debian", os_version="12")
    for each in (scan, other):
        SbomPackage.objects.create(scan=each, name="zlib1g", version="1:1.2.13.dfsg-1", source_name="zlib",
                                   source_version="1:1.2.13.dfsg-1")
    SbomPackage.objects.create(scan=other, name="libssl3", version="3.0.11-1~deb12u1", source_name="openssl",
                               source_version="3.0.11-1~deb12u1")

    # an import, and the re-match of every stored SBOM it names (findings added by COPY)
    _, changed = vulndb_import(source="osv", path=write(
        tmp_path, osv("DEB-2024-0001", severity=CRITICAL), osv("DEB-2024-0002", name="zlib", fixed=None),
        osv("DEB-2024-0003", name="zlib", fixed="1:1.3-1", urgency="low")))
    reevaluate_after_import(changed)
    counts = assert_counts_kept("after an import's re-match")
    assert counts[(scan.pk, "Critical")] == (1, 1) and sum(n for n, _ in counts.values()) == 6

    # a new scan's match replaces its findings
    scan_match(other)
    assert_counts_kept("after a scan is matched")

    # the record gets a fix for the installed version's successor, then is withdrawn: rows replaced, then deleted
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", modified="2024-02-01T00:00:00Z", fixed="3.0.13-1~deb12u1", severity=CRITICAL)))
    reevaluate_after_import(changed)
    assert_counts_kept("after a record changed")
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", modified="2024-03-01T00:00:00Z", withdrawn="2024-03-01T00:00:00Z", severity=CRITICAL)))
    reevaluate_after_import(changed)
    counts = assert_counts_kept("after a record was withdrawn")
    assert (scan.pk, "Critical") not in counts, "a count that reaches zero is removed"

    # a scanner's report, imported and then replaced by a smaller one
    external_report_import(scan=scan, tool="trivy", data=TRIVY, force=True)
    with_report = assert_counts_kept("after a report was imported")
    smaller = copy.deepcopy(TRIVY)
    smaller["Results"][0]["Vulnerabilities"] = smaller["Results"][0]["Vulnerabilities"][:1]
    external_report_import(scan=scan, tool="trivy", data=smaller, force=True)
    assert_counts_kept("after a report was replaced")
    assert kept() != with_report, "the replacement changed the findings"

    # an exception applied to the image: a verdict changes, the findings and their counts do not
    before = kept()
    PolicyException.objects.create(
        scope=PolicyException.Scope.RECIPE, team=published.team, recipe=published.recipe, target_kind="package",
        target="zlib1g", reason="accepted_risk", justification="Not reachable from the service's code paths.",
        expires_at=timezone.now() + datetime.timedelta(days=7), requested_by=member, decided_by=reviewer,
        status=PolicyException.Status.APPROVED)
    verdicts_reevaluate([published], trigger="exception")
    assert assert_counts_kept("after an exception applied") == before

    # findings moved and regraded by an UPDATE
    findings_move(Finding.objects.filter(scan=other, severity="Low"), scan)
    Finding.objects.filter(scan=scan, severity="Low").update(severity="Medium")
    assert_counts_kept("after an UPDATE of findings")

    # a re-scan deletes the packages, and their findings with them; an advisory deleted takes its findings
    SbomPackage.objects.filter(scan=other, source_name="zlib").delete()
    assert_counts_kept("after packages were deleted")
    Advisory.objects.filter(source="trivy").delete()
    assert_counts_kept("after advisories were deleted")

    # the scans deleted: nothing counted is left, and no count names a scan that is gone
    ImageScan.objects.filter(pk__in=[scan.pk, other.pk]).delete()
    assert assert_counts_kept("after the scans were deleted") == {}


def test_a_count_is_per_scan_and_severity_with_its_fixable_part(team, other_team, member, reviewer):
    from tests.compliance.fleet import SEVERITIES, fleet_grow

    builds = fleet_grow(teams=[team, other_team], images=3, findings_per_image=6, requester=member, reviewer=reviewer)
    counts = assert_counts_kept("after bulk inserts")
    # fleet_grow's findings i = 0..5: severity i % 4, fixable for even i
    scan = builds[0].scan.pk
    assert [counts[(scan, severity)] for severity in SEVERITIES] == [(2, 2), (2, 0), (1, 1), (1, 0)]
    assert len(counts) == 3 * 4
