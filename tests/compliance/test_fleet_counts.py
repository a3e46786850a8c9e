"""The security overview and the list of current images its tiles lead to count the same images and
findings, for the same filters: both read `current_images`, and this test reads both pages."""
import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from builds.models import Build, Recipe
from compliance.models import Finding, PolicyException, Verdict
from portal.models import Team
from tests.compliance.fleet import fleet_grow

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_uncached")]  # they read response.context


@pytest.fixture
def fleet(team, other_team, member, reviewer):
    """Ten images over two teams: failing (fleet_grow's), one passing, one not assessed, one never
    evaluated, one superseded by a newer build of its recipe (only the newer counts)."""
    builds = fleet_grow(teams=[team, other_team], images=10, findings_per_image=5, requester=member, reviewer=reviewer)
    Verdict.objects.create(build=builds[1], passed=True, results=[])
    Verdict.objects.create(build=builds[2], passed=True, results=[], not_assessed="no vulnerability data for Debian 12")
    Verdict.objects.filter(build=builds[3]).delete()
    old = builds[4]
    newer = Build.objects.create(recipe=old.recipe, team=old.team, requested_by=member, status=Build.Status.SUCCEEDED,
                                 composition_sha256="f" * 64, digest="sha256:" + "f" * 64, dockerfile="FROM base\n")
    Verdict.objects.create(build=newer, passed=True, results=[])
    return builds


def list_rows(client, **filters) -> list[dict]:
    """Every row of the images list's CSV export (the page and the export share one query)."""
    response = client.get(reverse("fleet-images"), {**filters, "format": "csv"})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def overview(client, **filters) -> dict:
    response = client.get(reverse("security-dashboard"), filters)
    assert response.status_code == 200
    return response.context["summary"]


@pytest.mark.parametrize("team_filter", [None, "team", "other_team"])
def test_the_overview_totals_equal_the_images_list_totals_for_the_same_filters(
        client, reviewer, fleet, team_filter, request):
    client.force_login(reviewer)
    filters = {"team": request.getfixturevalue(team_filter).slug} if team_filter else {}
    summary, rows = overview(client, **filters), list_rows(client, **filters)

    assert summary["images"] == len(rows) > 0
    for severity, counted in summary["counts"].items():
        assert counted["total"] == sum(int(row[severity]) for row in rows), severity
    assert summary["failing"] == len(list_rows(client, state="failing", **filters))
    assert summary["failing"] == sum(1 for row in rows if row["verdict"] == "failing")
    assert summary["not_assessed"] == len(list_rows(client, state="not-assessed", **filters))
    fixable_rows = list_rows(client, severity=["Critical", "High"], fixable="1", **filters)
    fixable_findings = Finding.objects.filter(scan__build_id__in=[int(r["build"]) for r in fixable_rows],
                                              severity__in=["Critical", "High"]).exclude(fixed_version="").count()
    assert summary["fixable_critical_high"] == fixable_findings


def test_the_list_holds_each_recipes_latest_build_with_its_latest_verdict(client, reviewer, fleet):
    client.force_login(reviewer)
    rows = {int(row["build"]): row for row in list_rows(client)}
    assert len(rows) == Recipe.objects.count() == 10
    assert fleet[4].pk not in rows, "superseded by a newer build of its recipe"
    assert rows[fleet[1].pk]["verdict"] == "passing" and rows[fleet[0].pk]["verdict"] == "failing"
    assert rows[fleet[2].pk]["verdict"] == "not-assessed" and rows[fleet[3].pk]["verdict"] == "unevaluated"
    assert [int(r["build"]) for r in list_rows(client, state="unevaluated")] == [fleet[3].pk]


def test_a_member_sees_only_their_teams_images_and_an_unknown_team_filter_is_ignored(client, member, team, other_team, fleet):
    client.force_login(member)
    rows = list_rows(client)
    assert rows and {row["team"] for row in rows} == {team.slug}
    assert list_rows(client, team=other_team.slug) == rows, "another team's slug is not a way in"
    assert overview(client, team=other_team.slug)["images"] == len(rows)


def test_the_overview_tiles_link_to_the_list_with_their_filters(client, reviewer, team, fleet):
    client.force_login(reviewer)
    page = client.get(reverse("security-dashboard"), {"team": team.slug}).content.decode()
    images = reverse("fleet-images")
    assert f'href="{images}?state=failing&amp;team={team.slug}"' in page
    assert f'href="{images}?severity=Critical&amp;severity=High&amp;fixable=1&amp;team={team.slug}"' in page
    listed = client.get(images, {"state": "failing", "team": team.slug}).content.decode()
    assert listed.count("<tr data-build=") == overview(client, team=team.slug)["failing"]


def overview_csv(client, **filters) -> list[dict]:
    response = client.get(reverse("security-dashboard"), {**filters, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def global_exception(member, reviewer):
    """One exception no team owns: in the overview's "all teams" figures, not in a team's."""
    return PolicyException.objects.create(
        scope=PolicyException.Scope.GLOBAL, target_kind="vulnerability", target="CVE-2026-0003", reason="accepted_risk",
        justification="Not reachable from any service's code paths at all.", requested_by=reviewer,
        expires_at=timezone.now() + datetime.timedelta(days=30))


@pytest.mark.parametrize("team_filter", [None, "team", "other_team"])
def test_the_overview_csv_holds_the_figures_its_tiles_show_for_the_same_filters(
        client, reviewer, fleet, global_exception, team_filter, request):
    client.force_login(reviewer)
    filters = {"team": request.getfixturevalue(team_filter).slug} if team_filter else {}
    page = client.get(reverse("security-dashboard"), filters)
    summary, rows = page.context["summary"], overview_csv(client, **filters)
    *teams, total = rows
    query = f"team={filters['team']}&amp;" if filters else ""
    assert f'href="?{query}format=csv"' in page.content.decode()

    assert total["scope"] == "all" and total["team"] == filters.get("team", "")
    assert int(total["images"]) == summary["images"] > 0 and int(total["scanned"]) == summary["scanned"]
    assert int(total["failing"]) == summary["failing"] and int(total["not_assessed"]) == summary["not_assessed"]
    assert int(total["passing"]) == len(list_rows(client, state="passing", **filters))
    assert int(total["unevaluated"]) == len(list_rows(client, state="unevaluated", **filters))
    for severity, counted in summary["counts"].items():
        assert (int(total[severity]), int(total[f"{severity}_fixable"])) == (counted["total"], counted["fixable"]), severity
    assert int(total["fixable_critical_high"]) == summary["fixable_critical_high"]
    assert int(total["exceptions_pending"]) == page.context["pending_exceptions"]
    assert int(total["exceptions_expiring"]) == page.context["expiring_count"]

    assert [row["team"] for row in teams] == [filters["team"]] if filters else sorted(Team.objects.values_list("slug", flat=True))
    for column in ("images", "scanned", "failing", "not_assessed", "passing", "unevaluated", "Critical", "Low_fixable"):
        assert sum(int(row[column]) for row in teams) == int(total[column]), column
    pending_in_teams = sum(int(row["exceptions_pending"]) for row in teams)
    assert int(total["exceptions_pending"]) == pending_in_teams + (0 if filters else 1), "the global one is nobody's"


def test_a_member_asking_for_another_teams_overview_csv_gets_their_own(client, member, team, other_team, fleet):
    client.force_login(member)
    rows = overview_csv(client)
    assert [(row["scope"], row["team"]) for row in rows] == [("team", team.slug), ("all", "")]
    assert overview_csv(client, team=other_team.slug) == rows
    assert int(rows[-1]["images"]) == len(list_rows(client)) == overview(client, team=other_team.slug)["images"]
