"""Global search: vulnerability ids go to their impact page; names, digests and published
references find the images and builds of the user's own teams (never another team's), and package
names (whole, or their beginning) the current images that hold them, a page at a time."""
import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from builds.models import Build
from compliance.models import Advisory
from tests.compliance.fleet import fleet_grow

pytestmark = pytest.mark.django_db


def search(client, q):
    return client.get(reverse("search"), {"q": q})


@pytest.fixture
def images(team, other_team, member, reviewer):
    return fleet_grow(teams=[team, other_team], images=4, findings_per_image=1, requester=member, reviewer=reviewer)


@pytest.mark.parametrize("q, expected", [("cve-2026-0001", "CVE-2026-0001"), ("ghsa-H5C8-rqwp-CP95", "GHSA-h5c8-rqwp-cp95"),
                                         ("PYSEC-2022-236", "PYSEC-2022-236"), ("DEBIAN-CVE-2024-0727", "DEBIAN-CVE-2024-0727")])
def test_a_vulnerability_id_goes_to_its_impact_page(client, member, q, expected):
    client.force_login(member)
    assert search(client, q).url == reverse("vulnerability-impact", args=[expected])


def test_an_id_only_our_data_holds_goes_to_its_impact_page_too(client, member, images):
    client.force_login(member)
    assert search(client, "weird-alias").status_code == 200, "not known yet: a results page"
    Advisory.objects.create(source="osv", osv_id="ODD-ID-7", modified="2024-01-01T00:00:00Z", aliases=["weird-alias"])
    assert search(client, "weird-alias").url == reverse("vulnerability-impact", args=["weird-alias"])


def test_an_image_name_team_digest_or_reference_finds_the_teams_own_images_and_builds(client, member, team, images):
    client.force_login(member)
    mine = [b for b in images if b.team == team]
    theirs = [b for b in images if b.team != team]

    page = search(client, mine[0].recipe.name).content.decode()
    assert reverse("recipe-detail", args=[mine[0].recipe.pk]) in page
    assert search(client, team.slug).content.decode().count(f"{team.slug}/image-") == len(mine)

    by_digest = search(client, mine[0].digest[:25]).content.decode()
    assert reverse("build-detail", args=[mine[0].pk]) in by_digest
    published = Build.objects.filter(team=team).exclude(published_reference="").first()
    assert reverse("build-detail", args=[published.pk]) in search(client, published.published_reference.split("/")[-1]).content.decode()

    other = search(client, theirs[0].recipe.name).content.decode()
    assert reverse("recipe-detail", args=[theirs[0].recipe.pk]) not in other
    assert reverse("build-detail", args=[theirs[0].pk]) not in search(client, theirs[0].digest).content.decode()


def test_nothing_found_says_so_and_offers_the_vulnerability_lookup(client, member, images):
    client.force_login(member)
    page = search(client, "orders-api").content.decode()
    assert "No image, build, published reference or package of your teams matches" in page
    assert reverse("vulnerability-impact", args=["orders-api"]) in page
    assert "Look it up" not in search(client, "a/b").content.decode()


def package_rows(response) -> list[tuple[str, int]]:
    """(package name, build id) of each package row the search shows, in order."""
    return [(p.name, p.scan.build_id) for p in response.context["packages"]]


@pytest.fixture
def packaged(team, other_team, member, reviewer):
    """Four images of each team, twelve packages each (lib0 ... lib11); the first image of `team`
    has a newer build since, without a scan: its packages are no current image's."""
    builds = fleet_grow(teams=[team, other_team], images=8, findings_per_image=12, requester=member, reviewer=reviewer)
    old = builds[0]
    Build.objects.create(recipe=old.recipe, team=old.team, requested_by=member, status=Build.Status.SUCCEEDED,
                         composition_sha256="e" * 64, digest="sha256:" + "e" * 64, dockerfile="FROM base\n")
    return builds


def test_a_package_name_or_its_beginning_finds_the_current_images_holding_it(client, member, team, packaged):
    client.force_login(member)
    current = [b.pk for b in packaged[1:] if b.team == team]
    response = search(client, "LIB1")  # lib1, lib10, lib11, in any case
    rows = package_rows(response)
    assert sorted(rows) == sorted((name, pk) for name in ("lib1", "lib10", "lib11") for pk in current)
    assert [name for name, _ in rows] == ["lib1"] * 3 + ["lib10"] * 3 + ["lib11"] * 3, "the exact name first"
    page = response.content.decode()
    assert "<code>1.0-1</code>" in page, "the version installed"
    report = reverse("image-report", args=[current[0]])
    assert f'href="{report}?package=lib10"' in page
    assert package_rows(search(client, "lib11")) == [("lib11", pk) for pk in current]
    assert package_rows(search(client, "ib1")) == [], "a name's beginning, not any part of it"
    assert packaged[0].pk not in {pk for _, pk in package_rows(search(client, "lib"))}, "superseded by a newer build"


def test_the_link_opens_the_report_on_that_packages_findings_alone(client, member, team, packaged):
    client.force_login(member)
    [(name, build_id), *_] = package_rows(search(client, "lib1"))
    shown = [p for p in search(client, "lib1").context["packages"] if p.scan.build_id == build_id and p.name == name][0]
    report = client.get(reverse("image-report", args=[build_id]), {"package": name})
    assert {f.package.name for f in report.context["findings"]} == {"lib1"} and report.context["total"] == shown.finding_count
    assert 'name="package" value="lib1" checked' in report.content.decode(), "unticking it shows every package again"
    exported = client.get(reverse("image-report-csv", args=[build_id]), {"package": name}).content.decode()
    assert {row["package"] for row in csv.DictReader(io.StringIO(exported))} == {"lib1"}
    assert report.context["total_all"] > report.context["total"]


def test_members_find_their_teams_packages_and_reviewers_every_teams(client, member, outsider, reviewer, team, other_team,
                                                                   packaged):
    def teams_found(user) -> set[str]:
        client.force_login(user)
        return {Build.objects.get(pk=pk).team.slug for _, pk in package_rows(search(client, "lib11"))}

    assert teams_found(member) == {team.slug}
    assert teams_found(outsider) == {other_team.slug}
    assert teams_found(reviewer) == {team.slug, other_team.slug}


def test_a_broad_name_shows_a_page_of_packages_and_a_link_to_the_next(client, reviewer, packaged):
    from compliance.search.selectors import PACKAGE_ROWS

    client.force_login(reviewer)
    expected = 7 * 12  # every package of the seven current images
    first = search(client, "lib")
    assert len(package_rows(first)) == PACKAGE_ROWS < expected
    assert 'packages_page=2">Next 50 →</a>' in first.content.decode()
    second = client.get(reverse("search"), {"q": "lib", "packages_page": "2"})
    assert len(package_rows(second)) == expected - PACKAGE_ROWS and "Next 50" not in second.content.decode()
    assert 'packages_page=1">← Previous 50</a>' in second.content.decode()
    assert set(package_rows(first)).isdisjoint(package_rows(second))
    assert client.get(reverse("search"), {"q": "lib", "packages_page": "x"}).context["packages_page"] == 1


def test_the_package_search_reads_the_same_number_of_queries_however_many_rows_it_shows(
        client, reviewer, team, other_team, member, django_assert_max_num_queries):
    client.force_login(reviewer)
    counts = []
    for images in (1, 12):
        fleet_grow(teams=[team, other_team], images=images, findings_per_image=12, requester=member, reviewer=reviewer)
        with CaptureQueriesContext(connection) as captured:
            response = search(client, "lib1")
        assert len(package_rows(response)) == 3 * Build.objects.count()
        counts.append(len(captured))
    assert counts[0] == counts[1], "no query per row"
    with django_assert_max_num_queries(counts[0]):
        search(client, "lib1")


def test_the_package_names_filter_and_order_are_served_by_the_name_index(packaged):
    """With sequential reads priced out, PostgreSQL reads the index of migration 0019 for the
    search's condition on names and for its order: the index's expression and collation are the
    ones the search's query uses. (Which plan it picks for the whole query depends on the data's
    statistics: bench/package_search.py times it on a large fleet.)"""
    from django.db.models.functions import Upper

    from compliance.models import SbomPackage
    from compliance.search.selectors import _binary

    for q in ("lib1", "LIB1"):
        query = SbomPackage.objects.filter(name__istartswith=q).order_by(_binary(Upper("name")))[:51]
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Index Scan using compliance_sbompackage_name_prefix" in plan and "Sort" not in plan, plan


def test_nothing_found_names_packages_too(client, member, packaged):
    client.force_login(member)
    assert "No image, build, published reference or package of your teams matches" in search(client, "zlib").content.decode()
