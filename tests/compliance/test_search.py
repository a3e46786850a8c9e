"""Global search: vulnerability ids go to their impact page; names, digests and published
references find the images and builds of the user's own teams (never another team's)."""
import pytest
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


@pytest.mark.parametrize("q, expected", [("cve-2026-0001", "CVE-2026-0001"), ("GHSA-h5c8-rqwp-cp95", "GHSA-H5C8-RQWP-CP95"),
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
    assert "No image, build or published reference of your teams matches" in page
    assert reverse("vulnerability-impact", args=["orders-api"]) in page
    assert "Look it up" not in search(client, "a/b").content.decode()
