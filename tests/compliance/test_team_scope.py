"""?team= scopes every security view of fleet data: the overview's trend card (and its API), the
exception tiles and the register they lead to (and its API), and the CVE page with its counts,
CSV and bulk actions. A team the user may not see is ignored (they see everything they may see,
as without it), never an error and never a way into that team's data; the one exception is an
action in the API, which refuses it rather than act on every team behind the caller's back."""
import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from builds.models import Build
from compliance.models import PolicyException, Verdict
from portal.models import Membership
from tests.compliance.fleet import WIDESPREAD, fleet_grow
from tests.factories import member_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_uncached")]  # they read response.context
UNFIXED = "CVE-2026-0002"  # fleet_grow's second finding of every image: High, no fix


@pytest.fixture
def fleet(team, other_team, member, reviewer):
    """Six images over two teams, published a week ago: `team`'s fail, `other_team`'s pass; each
    team has pending and approved (expiring) exceptions."""
    builds = fleet_grow(teams=[team, other_team], images=6, findings_per_image=2, requester=member, reviewer=reviewer)
    Build.objects.exclude(published_reference="").update(published_at=timezone.now() - datetime.timedelta(days=7))
    for build in builds:
        if build.team == other_team:
            Verdict.objects.create(build=build, passed=True, results=[])
    for owner in (team, other_team):  # fleet_grow alternates the states as it alternates the teams
        first, second, *_ = PolicyException.objects.filter(team=owner).order_by("pk")
        PolicyException.objects.filter(pk=first.pk).update(status=PolicyException.Status.PENDING, decided_by=None)
        PolicyException.objects.filter(pk=second.pk).update(status=PolicyException.Status.APPROVED, decided_by=reviewer)
    return builds


@pytest.fixture
def both(team, other_team):
    """A member of both teams: acts on the images of either."""
    user = member_of(team, "bo")
    Membership.objects.create(user=user, team=other_team, role=Membership.Role.MEMBER)
    return user


def published(builds, team) -> int:
    return sum(1 for b in builds if b.team == team and b.published_reference)


def this_week(response) -> tuple[int, int]:
    last = response.context["trend_last"]
    return last.compliant, last.noncompliant


def test_the_trend_card_counts_the_chosen_teams_images_and_its_period_links_keep_the_team(
        client, reviewer, team, other_team, fleet):
    client.force_login(reviewer)
    overview = reverse("security-dashboard")
    assert this_week(client.get(overview)) == (published(fleet, other_team), published(fleet, team))
    page = client.get(overview, {"team": team.slug})
    assert this_week(page) == (0, published(fleet, team))
    assert f"Compliance of published images of team {team.slug}" in page.content.decode()
    assert f'hx-get="?team={team.slug}&amp;weeks=26"' in page.content.decode()
    card = client.get(overview, {"team": other_team.slug, "weeks": "26"},
                      headers={"HX-Request": "true", "HX-Target": "verdict-trend"})
    assert card.context["trend_weeks"] == 26 and this_week(card) == (published(fleet, other_team), 0)
    api = APIClient()
    api.force_authenticate(reviewer)
    points = api.get("/api/security/verdict-trend/", {"team": team.slug}).json()
    assert (points[-1]["compliant"], points[-1]["noncompliant"]) == (0, published(fleet, team)), "the API as the card"


def test_a_member_asking_for_another_teams_trend_sees_their_own(client, member, team, other_team, fleet):
    client.force_login(member)
    overview = reverse("security-dashboard")
    own = this_week(client.get(overview))
    assert own == (0, published(fleet, team))
    for headers in ({}, {"HX-Request": "true", "HX-Target": "verdict-trend"}):
        response = client.get(overview, {"team": other_team.slug}, headers=headers)
        assert response.status_code == 200 and this_week(response) == own
        assert f'value="{other_team.slug}"' not in response.content.decode(), "no choice of a team they may not see"
    api = APIClient()
    api.force_authenticate(member)
    points = api.get("/api/security/verdict-trend/", {"team": other_team.slug}).json()
    assert (points[-1]["compliant"], points[-1]["noncompliant"]) == own
    api.force_authenticate(member_of(other_team))
    theirs = api.get("/api/security/verdict-trend/", {"team": other_team.slug}).json()
    assert (theirs[-1]["compliant"], theirs[-1]["noncompliant"]) == (published(fleet, other_team), 0)


def listed(client, **query) -> list[int]:
    """The exceptions the register lists, by id."""
    return [e.pk for e in client.get(reverse("exception-list"), query).context["exceptions"]]


@pytest.mark.parametrize("tab, tile", [("expiring", "expiring_count"), ("pending", "pending_exceptions")])
def test_the_exception_tiles_link_to_the_register_of_their_team_which_lists_as_many(
        client, reviewer, team, other_team, fleet, tab, tile):
    client.force_login(reviewer)
    for chosen in ("", team.slug, other_team.slug):
        page = client.get(reverse("security-dashboard"), {"team": chosen} if chosen else {})
        link = f'href="{reverse("exception-list")}?status={tab}' + (f'&amp;team={chosen}"' if chosen else '"')
        assert link in page.content.decode()
        rows = listed(client, status=tab, **({"team": chosen} if chosen else {}))
        assert page.context[tile] == len(rows) > 0, chosen
        expected = PolicyException.objects.filter(**({"team__slug": chosen} if chosen else {}))
        assert set(rows) <= set(expected.values_list("pk", flat=True))
    assert len(listed(client, status=tab, team=team.slug)) + len(listed(client, status=tab, team=other_team.slug)) \
        == len(listed(client, status=tab))


def test_the_expiring_tile_counts_every_expiring_exception_not_the_twenty_it_lists(client, reviewer, team, member, fleet):
    soon = timezone.now() + datetime.timedelta(days=3)
    PolicyException.objects.bulk_create([PolicyException(
        scope="team", team=team, target_kind="vulnerability", target=f"CVE-2026-9{n:03d}", reason="accepted_risk",
        justification="Not reachable from the service's code paths at all.", expires_at=soon, requested_by=member,
        decided_by=reviewer, status="approved") for n in range(25)])
    client.force_login(reviewer)
    page = client.get(reverse("security-dashboard"), {"team": team.slug})
    assert page.context["expiring_count"] == len(listed(client, status="expiring", team=team.slug)) >= 25
    assert len(page.context["expiring"]) == 20
    assert f"All {page.context['expiring_count']} expiring exceptions" in page.content.decode()


def test_a_member_asking_for_another_teams_exceptions_sees_their_own(client, member, team, other_team, fleet):
    client.force_login(member)
    theirs = set(PolicyException.objects.filter(team=other_team).values_list("pk", flat=True))
    for tab in ("active", "pending", "expiring"):
        own = listed(client, status=tab)
        assert own and listed(client, status=tab, team=other_team.slug) == own and not theirs & set(own)
    page = client.get(reverse("security-dashboard"), {"team": other_team.slug})
    assert page.context["pending_exceptions"] == len(listed(client, status="pending"))
    api = APIClient()
    api.force_authenticate(member)
    answered = api.get("/api/exceptions/", {"team": other_team.slug}).json()
    rows = answered["results"] if isinstance(answered, dict) else answered
    assert rows and {row["team"] for row in rows} == {team.slug}
    assert api.get("/api/exceptions/", {"status": "bogus"}).json() == {"status": "One of " + ", ".join(
        PolicyException.Status.values) + "."}, "the states are documented as a list, and held to it"
    api.force_authenticate(member_of(other_team))
    answered = api.get("/api/exceptions/", {"team": other_team.slug}).json()
    rows = answered["results"] if isinstance(answered, dict) else answered
    assert {row["id"] for row in rows} == theirs


def impact(client, vulnerability_id=WIDESPREAD, **query):
    return client.get(reverse("vulnerability-impact", args=[vulnerability_id]), query)


def impact_csv(client, **query) -> list[dict]:
    return list(csv.DictReader(io.StringIO(impact(client, format="csv", **query).content.decode())))


def test_the_cve_page_lists_counts_and_exports_the_chosen_teams_images(client, reviewer, team, other_team, fleet):
    client.force_login(reviewer)
    everything = impact(client)
    assert everything.context["image_count"] == 6 and "Choose a team" in everything.content.decode()
    for chosen in (team, other_team):
        page = impact(client, team=chosen.slug)
        mine = [b for b in fleet if b.team == chosen]
        assert page.context["image_count"] == page.context["fixable_images"] == len(mine)
        assert page.context["teams"] == [chosen.name]
        assert {f.scan.build_id for f in page.context["findings"]} == {b.pk for b in mine}
        assert f"Impact on current images of team {chosen.slug}: {len(mine)} images" in page.content.decode()
        assert f'href="?team={chosen.slug}&amp;format=csv"' in page.content.decode(), "the export follows the filter"
        rows = impact_csv(client, team=chosen.slug)
        assert {row["digest"] for row in rows} == {b.digest for b in mine} and {row["team"] for row in rows} == {chosen.slug}


def test_the_cve_pages_actions_count_and_act_on_the_chosen_team_only(client, both, team, other_team, fleet):
    client.force_login(both)
    mine = [b for b in fleet if b.team == team]
    page = impact(client, UNFIXED, team=team.slug).content.decode()
    assert f"Request exceptions for {len(mine)} images without a fix" in page
    url = reverse("vulnerability-exceptions", args=[UNFIXED])
    assert f'href="{url}?team={team.slug}"' in page
    assert f"Request exceptions for {len(fleet)} images without a fix" in impact(client, UNFIXED).content.decode()
    listing = client.get(url, {"team": team.slug})
    assert [i.build for i in listing.context["images"]] == mine
    form = {"reason": "fix_pending", "justification": "No fix upstream yet; the service is internal only.",
            "expires_at": (datetime.date.today() + datetime.timedelta(days=30)).isoformat()}
    response = client.post(f"{url}?team={team.slug}", form)
    assert response.url == reverse("vulnerability-impact", args=[UNFIXED]) + f"?team={team.slug}"
    made = PolicyException.objects.filter(target=UNFIXED)
    assert made.count() == len(mine) and set(made.values_list("team", flat=True)) == {team.pk}

    api = APIClient()
    api.force_authenticate(both)
    outcome = api.post(f"/api/vulnerabilities/{UNFIXED}/exceptions/?team={other_team.slug}",
                       {**form, "expires_at": f"{form['expires_at']}T12:00:00Z"}, format="json").json()
    assert len(outcome["done"]) == len(fleet) - len(mine) and all(line.startswith(other_team.slug) for line in outcome["done"])
    assert made.count() == len(fleet)


def test_a_member_asking_for_another_teams_cve_impact_sees_and_acts_on_their_own(client, member, team, other_team, fleet):
    client.force_login(member)
    own = impact(client, UNFIXED)
    asked = impact(client, UNFIXED, team=other_team.slug)
    assert asked.status_code == 200 and asked.context["image_count"] == own.context["image_count"] == 3
    assert {f.scan.build.team for f in asked.context["findings"]} == {team}
    assert [i.build for i in asked.context["yours"][1]] == [i.build for i in own.context["yours"][1]]
    assert "Choose a team" not in asked.content.decode() and f'value="{other_team.slug}"' not in asked.content.decode()
    assert impact_csv(client, team=other_team.slug) == impact_csv(client)
    assert {row["team"] for row in impact_csv(client, team=other_team.slug)} == {team.slug}

    listing = client.get(reverse("vulnerability-exceptions", args=[UNFIXED]), {"team": other_team.slug})
    assert {i.build.team for i in listing.context["images"]} == {team}
    api = APIClient()
    api.force_authenticate(member)
    form = {"reason": "fix_pending", "justification": "No fix upstream yet; the service is internal only.",
            "expires_at": (timezone.now() + datetime.timedelta(days=30)).isoformat()}
    for path in (f"/api/vulnerabilities/{UNFIXED}/exceptions/", f"/api/vulnerabilities/{WIDESPREAD}/rebuilds/"):
        for slug in (other_team.slug, "no-such-team"):
            refused = api.post(f"{path}?team={slug}", form, format="json")
            assert refused.status_code == 400 and refused.json() == {"team": "No team you may see has this slug."}
    assert not PolicyException.objects.filter(target=UNFIXED).exists()
    assert Build.objects.count() == len(fleet), "nothing was rebuilt"
