"""Weekly verdict trend: published images compliant / non-compliant at the end of each ISO week,
as of that week, in a constant number of queries; the dashboard card, its htmx re-render and the API."""
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from builds.models import Build, Recipe
from compliance.models import Verdict
from compliance.trend.selectors import verdict_trend, week_ends
from tests.builds.test_api import api_for

pytestmark = pytest.mark.django_db
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday in ISO week 2026-W48


def at(day, hour=12):
    return datetime.datetime(2026, 11, day, hour, tzinfo=UTC)


def published_build(team, base, name, published_at, verdicts):
    """A published build of recipe `name` with verdicts [(created, passed), ...] stored at those times."""
    recipe, _ = Recipe.objects.get_or_create(team=team, name=name, defaults={"base": base})
    build = Build.objects.create(recipe=recipe, team=team, status="succeeded", dockerfile="FROM busybox",
                                 composition_sha256="0" * 64, published_at=published_at,
                                 published_reference=f"127.0.0.1:5000/published/{team.slug}/{name}:x")
    for created, passed in verdicts:
        verdict = Verdict.objects.create(build=build, passed=passed, results=[])
        Verdict.objects.filter(pk=verdict.pk).update(created=created)
    return build


def test_the_weeks_are_iso_weeks_and_the_current_one_ends_now():
    assert week_ends(3, NOW) == [
        (datetime.date(2026, 11, 9), at(16, 0)), (datetime.date(2026, 11, 16), at(23, 0)),
        (datetime.date(2026, 11, 23), NOW)]


def test_it_counts_each_image_as_it_stood_at_the_end_of_each_week(team, other_team, busybox):  # noqa: F811
    # pay-api: compliant in W46, turned non-compliant in W47 (a re-evaluation), fixed in W48.
    published_build(team, busybox, "pay-api", at(10), [(at(10, 1), True), (at(11), True), (at(18), False), (at(24), True)])
    # search-ui: published compliant in W47; a newer build published in W48 replaces it and fails.
    published_build(team, busybox, "search-ui", at(17), [(at(17, 1), True)])
    published_build(team, busybox, "search-ui", at(24), [(at(23, 20), False)])
    # built and passing in W46 but published only in W48.
    published_build(team, busybox, "late", at(25, 8), [(at(10), True)])
    # another team's image: not visible to a member of `team`.
    published_build(other_team, busybox, "elsewhere", at(10), [(at(10), False)])

    points = verdict_trend(type(team).objects.filter(pk=team.pk), weeks=3, now=NOW)
    assert [(p.label, p.compliant, p.noncompliant) for p in points] == [
        ("2026-W46", 1, 0), ("2026-W47", 1, 1), ("2026-W48", 2, 1)]
    assert points[-1].end == NOW


def test_it_answers_in_two_queries_whatever_the_data_size(team, busybox):  # noqa: F811
    counts = []
    for images in (2, 40):
        for i in range(images):
            published_build(team, busybox, f"img-{images}-{i}", at(3), [(at(3), True), (at(12), i % 2 == 0), (at(20), True)])
        with CaptureQueriesContext(connection) as queries:
            points = verdict_trend(type(team).objects.filter(pk=team.pk), weeks=52, now=NOW)
        counts.append(len(queries))
        assert points[-1].total == images + (2 if images == 40 else 0)
    assert counts == [2, 2]


def test_the_dashboard_draws_the_trend_with_a_data_table(client, reviewer, team, busybox):  # noqa: F811
    published_build(team, busybox, "pay-api", at(10), [(at(10), True)])
    client.force_login(reviewer)
    page = client.get(reverse("security-dashboard")).content.decode()
    assert '<svg class="trend-chart"' in page and 'role="img"' in page and "aria-label=\"Stacked bars" in page
    assert "<summary>Show data</summary>" in page and page.count('<th scope="row">20') == 12
    assert 'hx-get="?weeks=26"' in page and 'hx-push-url="true"' in page and 'aria-current="true"' in page


def test_the_period_selector_re_renders_only_the_card(client, reviewer, team, busybox):  # noqa: F811
    published_build(team, busybox, "pay-api", at(10), [(at(10), True)])
    client.force_login(reviewer)
    response = client.get(reverse("security-dashboard") + "?weeks=26", headers={"HX-Request": "true",
                                                                               "HX-Target": "verdict-trend"})
    card = response.content.decode()
    assert card.lstrip().startswith('<section id="verdict-trend"') and "<h1>" not in card
    assert "last 26 weeks" in card and card.count('<th scope="row">20') == 26
    assert 'hx-swap-oob="innerHTML"' in card and "data-focus-after-swap" in card
    assert "HX-Request" in response["Vary"]
    full = client.get(reverse("security-dashboard") + "?weeks=52").content.decode()
    assert "<h1>Security overview</h1>" in full and "last 52 weeks" in full, "the pushed URL renders the whole page"
    assert "last 12 weeks" in client.get(reverse("security-dashboard") + "?weeks=7").content.decode()


@pytest.mark.parametrize("partial", [False, True])
def test_the_dashboard_keeps_a_constant_number_of_queries(client, reviewer, team, busybox, partial):  # noqa: F811
    client.force_login(reviewer)
    headers = {"HX-Request": "true", "HX-Target": "verdict-trend"} if partial else {}
    counts = []
    for images in (1, 30):
        for i in range(images):
            published_build(team, busybox, f"img-{images}-{i}", at(3), [(at(3), True), (at(12), i % 3 != 0)])
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("security-dashboard") + "?weeks=52", headers=headers).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_the_api_gives_the_same_numbers_to_the_same_teams(team, other_team, member, reviewer, busybox):  # noqa: F811
    published_build(team, busybox, "pay-api", at(10), [(at(10), False)])
    published_build(other_team, busybox, "elsewhere", at(10), [(at(10), True)])
    points = api_for(reviewer).get("/api/security/verdict-trend/?weeks=26").json()
    assert len(points) == 26 and set(points[-1]) == {"week", "start", "counted_at", "compliant", "noncompliant"}
    assert (points[-1]["compliant"], points[-1]["noncompliant"]) == (1, 1)
    mine = api_for(member).get("/api/security/verdict-trend/").json()
    assert len(mine) == 12 and (mine[-1]["compliant"], mine[-1]["noncompliant"]) == (0, 1)
    bad = api_for(member).get("/api/security/verdict-trend/?weeks=7")
    assert bad.status_code == 400 and bad.json()["weeks"] == "One of 12, 26, 52."


def test_the_chart_axis_reads_in_whole_round_numbers():
    from compliance.trend.chart import trend_chart
    from compliance.trend.selectors import WeekPoint

    def chart(*totals):
        return trend_chart([WeekPoint(f"2026-W{i:02d}", datetime.date(2026, 1, 5), NOW, t, 0) for i, t in enumerate(totals, 1)])

    assert [t["value"] for t in chart(0, 3)["ticks"]] == [0, 1, 2, 3, 4]
    assert [t["value"] for t in chart(6, 9)["ticks"]] == [0, 2, 4, 6, 8, 10]
    assert [t["value"] for t in chart(130)["ticks"]] == [0, 40, 80, 120, 160, 200]
    tall = chart(10, 5)
    assert tall["bars"][0]["ok_height"] == 2 * tall["bars"][1]["ok_height"], "bar heights are proportional"
    assert [b["label"] for b in chart(*range(52))["bars"]].count("") == 52 - 13, "about a dozen week labels"


def test_anonymous_users_get_neither_the_card_nor_the_api(client):
    from rest_framework.test import APIClient

    response = client.get(reverse("security-dashboard") + "?weeks=26", headers={"HX-Request": "true",
                                                                               "HX-Target": "verdict-trend"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert APIClient().get("/api/security/verdict-trend/").status_code == 401
