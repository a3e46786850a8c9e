"""Security pages run the same number of queries however much data there is: every page is read
with a small fleet, the fleet grows (more images, teams' rows, findings per image, exceptions),
and the page is read again. A query per row (N+1) shows up as a different count."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.compliance.fleet import WIDESPREAD, findings_move, fleet_grow

pytestmark = pytest.mark.django_db


def page_urls(build) -> dict[str, str]:
    report = reverse("image-report", args=[build.pk])
    csv = reverse("image-report-csv", args=[build.pk])
    cve = reverse("vulnerability-impact", args=[WIDESPREAD])
    return {
        "image report": report,
        "image report, filtered": report + "?sev=Critical&sev=High&fixable=1&q=lib&origin=added",
        "image report, htmx page 1": report + "?sev=High",
        "image report, by what added it": report + "?origin=service",
        "image report CSV": csv,
        "image report CSV, filtered": csv + "?fixable=1&q=lib",
        "image report CSV, by what added it": csv + "?origin=option",
        "CVE impact": cve,
        "CVE impact CSV": cve + "?format=csv",
        "security dashboard": reverse("security-dashboard"),
        "security dashboard, one team": reverse("security-dashboard") + f"?team={build.team.slug}",
        "security dashboard CSV": reverse("security-dashboard") + "?format=csv",
        "CVE impact, one team": cve + f"?team={build.team.slug}",
        "CVE impact CSV, one team": cve + f"?team={build.team.slug}&format=csv",
        "exceptions, active, one team": reverse("exception-list") + f"?status=active&team={build.team.slug}",
        "search, package names": reverse("search") + "?q=lib",
        "current images": reverse("fleet-images"),
        "current images, filtered": reverse("fleet-images") + "?state=failing&severity=Critical&fixable=1",
        "current images CSV": reverse("fleet-images") + "?format=csv",
        "exceptions, pending": reverse("exception-list") + "?status=pending",
        "exceptions, active": reverse("exception-list") + "?status=active",
        "exceptions, expiring": reverse("exception-list") + "?status=expiring",
        "build page": reverse("build-detail", args=[build.pk]),
    }


def query_counts(client, urls) -> dict[str, int]:
    counts = {}
    for name, url in urls.items():
        headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in name else {}
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, **headers)
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(captured)
    return counts


@pytest.mark.parametrize("as_reviewer", [True, False], ids=["reviewer", "team member"])
def test_it_reads_each_security_page_in_a_constant_number_of_queries(client, team, other_team, member, reviewer,
                                                                     as_reviewer):
    people = {"requester": member, "reviewer": reviewer}
    [first, *_] = fleet_grow(teams=[team, other_team], images=2, findings_per_image=3, **people)
    client.force_login(reviewer if as_reviewer else member)
    urls = page_urls(first)
    small = query_counts(client, urls)
    for name in ("image report, filtered", "CVE impact", "CVE impact, one team", "exceptions, expiring"):
        assert WIDESPREAD in client.get(urls[name]).content.decode(), f"{name} shows rows, so its rows are counted"
    assert "Packages in current images" in client.get(urls["search, package names"]).content.decode()
    for name, label in (("image report, by what added it", "service Java runtime 17"),
                        ("image report CSV, by what added it", "option wget 1")):
        assert label in client.get(urls[name]).content.decode(), f"{name} names what added its rows' packages"

    from compliance.models import Finding

    small_findings = Finding.objects.count()
    fleet_grow(teams=[team, other_team], images=7, findings_per_image=12, **people)
    # the page's own image grows too: more findings on its report, more rows in its CSV
    more = fleet_grow(teams=[team], images=1, findings_per_image=12, **people)[0]

    Finding.objects.filter(scan=first.scan).delete()
    findings_move(Finding.objects.filter(scan=more.scan), first.scan)
    large = query_counts(client, urls)

    assert large == small
    assert Finding.objects.count() >= 10 * small_findings, "the fleet really grew"


def test_it_summarises_the_fleet_with_the_counts_each_finding_gives(team, other_team, member, reviewer):
    from compliance.models import Finding
    from compliance.selectors import fleet_summary

    fleet_grow(teams=[team, other_team], images=4, findings_per_image=6, requester=member, reviewer=reviewer)
    summary = fleet_summary([team, other_team])
    findings = list(Finding.objects.values_list("severity", "fixed_version", "scan__build__team__slug"))
    for severity, counted in summary["counts"].items():
        assert counted == {"total": sum(1 for s, _, _ in findings if s == severity),
                           "fixable": sum(1 for s, f, _ in findings if s == severity and f)}, severity
    assert summary["fixable_critical_high"] == sum(1 for s, f, _ in findings if s in ("Critical", "High") and f) == 8
    assert dict(summary["teams"])[team.slug]["Critical"] == sum(1 for s, _, t in findings if s == "Critical" and t == team.slug)
