"""The security overview and the CVE page count from maintained counts and in the database, a page
of rows at a time: they show the numbers a plain count of the findings gives, and the CVE page's
rows, page after page, are every affected row."""
import csv
import io
import re

import pytest
from django.urls import reverse

from builds.models import Build
from compliance.models import Finding
from compliance.selectors import current_builds
from tests.compliance.fleet import WIDESPREAD, fleet_grow

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_uncached")]  # they read response.context


@pytest.fixture
def fleet(team, other_team, member, reviewer):
    """55 images over two teams (more than a page of the CVE page), each with WIDESPREAD; one
    image superseded by a newer build of its recipe, whose findings must not count."""
    builds = fleet_grow(teams=[team, other_team], images=55, findings_per_image=3, requester=member, reviewer=reviewer)
    old = builds[0]
    Build.objects.create(recipe=old.recipe, team=old.team, requested_by=member, status=Build.Status.SUCCEEDED,
                         composition_sha256="f" * 64, digest="sha256:" + "f" * 64, dockerfile="FROM base\n")
    return builds


def current_findings(teams):
    return Finding.objects.filter(scan__build__in=current_builds(teams)).select_related("scan__build__team")


def test_the_overview_shows_the_counts_a_plain_count_of_current_findings_gives(client, reviewer, team, other_team, fleet):
    client.force_login(reviewer)
    findings = list(current_findings([team, other_team]))
    summary = client.get(reverse("security-dashboard")).context["summary"]

    for severity, counted in summary["counts"].items():
        assert counted == {"total": sum(1 for f in findings if f.severity == severity),
                           "fixable": sum(1 for f in findings if f.severity == severity and f.fixed_version)}, severity
    for slug, row in summary["teams"]:
        for severity, n in row.items():
            assert n == sum(1 for f in findings if f.scan.build.team.slug == slug and f.severity == severity)
    assert summary["images"] == 55 and summary["scanned"] == 54, "the newer build has no scan"
    assert summary["top"][0]["vulnerability_id"] == WIDESPREAD and summary["top"][0]["images"] == 54


def test_the_images_list_shows_each_images_plain_counts(client, reviewer, team, other_team, fleet):
    client.force_login(reviewer)
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("fleet-images"), {"format": "csv"}).content.decode())))
    by_build = {}
    for f in current_findings([team, other_team]):
        by_build.setdefault(f.scan.build_id, []).append(f)
    assert len(rows) == 55
    for row in rows:
        found = by_build.get(int(row["build"]), [])
        assert int(row["fixable"]) == sum(1 for f in found if f.fixed_version)
        assert int(row["Critical"]) == sum(1 for f in found if f.severity == "Critical")
    filtered = client.get(reverse("fleet-images"), {"severity": "Low", "fixable": "1", "format": "csv"})
    assert filtered.content.decode().count("\n") == 1, "fleet_grow's Low findings never have a fix"


def impact_rows(page: str) -> list[str]:
    return re.findall(r'<tr><td>[^<]*</td>\s*<td><a href="[^"]*/builds/(\d+)/report', page)


def test_the_cve_page_counts_every_affected_image_and_lists_them_a_page_at_a_time(client, reviewer, team, other_team, fleet):
    client.force_login(reviewer)
    url = reverse("vulnerability-impact", args=[WIDESPREAD])
    first = client.get(url, {"from": "search"})
    page = first.content.decode()
    findings = [f for f in current_findings([team, other_team]) if f.vulnerability_id == WIDESPREAD]

    assert first.context["image_count"] == len({f.scan.build_id for f in findings}) == 54
    assert first.context["fixable_images"] == len({f.scan.build_id for f in findings if f.fixed_version}) == 54
    assert first.context["teams"] == sorted({team.name, other_team.name})
    assert first.context["by_base"] == [("Debian 12", 54)]
    assert "Impact on current images: 54 images · 2 teams · 54 fixable by a rebuild" in page
    assert len(impact_rows(page)) == 50
    assert 'href="?from=search&amp;page=2">Next →</a>' in page, "the pager keeps the query"
    assert 'href="?from=search&amp;format=csv"' in page

    rest = impact_rows(client.get(url, {"from": "search", "page": "2"}).content.decode())
    assert len(rest) == 4
    assert sorted(map(int, impact_rows(page) + rest)) == sorted(f.scan.build_id for f in findings)
    assert impact_rows(client.get(url, {"page": "99"}).content.decode()) == rest, "past the end: the last page"

    exported = list(csv.DictReader(io.StringIO(client.get(url, {"format": "csv"}).content.decode())))
    assert len(exported) == 54, "the CSV holds every row, not a page"
    assert {row["digest"] for row in exported} == {f.scan.build.digest for f in findings}


def test_a_member_sees_only_their_teams_images_on_the_cve_page(client, member, team, fleet):
    client.force_login(member)
    response = client.get(reverse("vulnerability-impact", args=[WIDESPREAD]))
    assert response.context["teams"] == [team.name]
    assert response.context["image_count"] == len({f.scan.build_id for f in current_findings([team])
                                                    if f.vulnerability_id == WIDESPREAD}) == 27
    exported = client.get(reverse("vulnerability-impact", args=[WIDESPREAD]), {"format": "csv"}).content.decode()
    assert {row["team"] for row in csv.DictReader(io.StringIO(exported))} == {team.slug}


def test_the_most_widespread_list_follows_every_change_of_the_current_findings(client, reviewer, team, member, fleet):
    """It is reused while the counted scans' findings stay the same: a finding replaced by another
    of the same severity (same numbers), or an image leaving the current ones, shows at once."""
    client.force_login(reviewer)

    def top():
        return {row["vulnerability_id"]: row["images"]
                for row in client.get(reverse("security-dashboard")).context["summary"]["top"]}

    assert top()[WIDESPREAD] == 54
    replaced = Finding.objects.get(scan=fleet[1].scan, vulnerability_id=WIDESPREAD)
    other = Finding.objects.filter(scan=fleet[1].scan, severity=replaced.severity).exclude(pk=replaced.pk).count()
    replaced.delete()
    Finding.objects.create(**{**{f.attname: getattr(replaced, f.attname) for f in Finding._meta.concrete_fields},
                              "id": None, "vulnerability_id": "CVE-2026-9999"})
    assert Finding.objects.filter(scan=fleet[1].scan, severity=replaced.severity).count() == other + 1, "same numbers"
    assert top()[WIDESPREAD] == 53 and top()["CVE-2026-9999"] == 1

    newer = Build.objects.create(recipe=fleet[3].recipe, team=fleet[3].team, requested_by=member, composition_sha256="e" * 64,
                                 status=Build.Status.SUCCEEDED, digest="sha256:" + "e" * 64, dockerfile="FROM base\n")
    assert newer.pk and top()[WIDESPREAD] == 52, "the superseded image's findings no longer count"
