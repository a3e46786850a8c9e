"""Popular apt packages get a layer each, below the recipe's other packages, so recipes share them."""
import pytest

from builds.compose.apt_merge import apt_merge
from builds.compose.composer import RecipeSnapshot, compose
from builds.compose.shared_layers import fragment_packages, popular_packages, shared_packages_for
from builds.models import Recipe
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, Component, ComponentVersion
from catalog.starter import COMPONENTS, apt_install
from tests.builds.compose.test_apt_merge import BASE, runs, starter


def transaction(*packages):
    return ("RUN apt-get update \\\n"
            f" && apt-get install -y --no-install-recommends {' '.join(packages)} \\\n"
            " && rm -rf /var/lib/apt/lists/*")


def test_popularity_counts_each_recipe_once_and_needs_two_recipes():
    recipes = [["tzdata", "wget", "tzdata"], ["tzdata", "curl"], ["curl", "tzdata"], ["jq"]]
    assert popular_packages(recipes, limit=5) == ("tzdata", "curl")


def test_popularity_keeps_the_most_used_breaks_ties_by_name_and_stops_at_the_limit():
    recipes = [["b", "a", "c", "d"], ["b", "a", "c", "d"], ["c", "d"], ["d"]]
    assert popular_packages(recipes, limit=3) == ("d", "c", "a")
    assert popular_packages(recipes, limit=0) == ()
    assert popular_packages([], limit=3) == ()


@pytest.mark.parametrize("slug, packages", [("timezone", ["tzdata"]), ("curl", ["ca-certificates", "curl"]),
                                             ("ca-certificate", ["ca-certificates"]), ("runtime-user", []),
                                             ("env-var", [])])
def test_it_reads_the_packages_of_a_catalog_fragment_with_its_placeholders_unfilled(slug, packages):
    fragment = next(c for c in COMPONENTS if c["slug"] == slug)["versions"][0]["fragment"]
    assert fragment_packages(fragment) == packages


def test_a_pinned_or_unmergeable_install_counts_by_name_or_not_at_all():
    assert fragment_packages(apt_install("wget=1.21.3-1+b2")) == ["wget"]
    assert fragment_packages("RUN apt-get install -y $(cat /pkgs)") == []


def test_shared_packages_get_a_transaction_each_in_popularity_order_below_the_rest():
    merged = apt_merge([apt_install("wget"), apt_install("curl", "ca-certificates"), apt_install("tzdata")],
                       shared_first=("tzdata", "ca-certificates", "jq"))
    assert merged.runs == [transaction("tzdata"), transaction("ca-certificates"), transaction("curl", "wget")]
    assert merged.shared == ["tzdata", "ca-certificates", ""]


def test_a_recipe_made_only_of_shared_packages_has_no_empty_transaction():
    merged = apt_merge([apt_install("tzdata")], shared_first=("tzdata",))
    assert merged.runs == [transaction("tzdata")]
    assert merged.shared == ["tzdata"]


def test_a_runtime_stays_in_its_lower_tier_even_when_a_shared_package_is_popular():
    merged = apt_merge([apt_install("openjdk-17-jre-headless"), apt_install("tzdata", "wget")], tiers=[0, 1],
                       shared_first=("tzdata", "openjdk-17-jre-headless"))
    assert merged.runs == [transaction("openjdk-17-jre-headless"), transaction("tzdata"), transaction("wget")]


def test_two_recipes_differing_in_one_tool_share_every_layer_up_to_the_popular_package():
    def dockerfile(*choices):
        snapshot = RecipeSnapshot(base_reference=BASE, base_os_family="debian", components=tuple(choices),
                                  shared_packages=("tzdata",))
        return compose(snapshot).dockerfile

    with_wget = dockerfile(starter("timezone", zone="Europe/Paris"), starter("wget"))
    with_curl = dockerfile(starter("curl"), starter("timezone", zone="Asia/Shanghai"))
    assert runs(with_wget)[0] == runs(with_curl)[0] == transaction("tzdata")
    shared_prefix = with_wget.split(transaction("tzdata"))[0] + transaction("tzdata")
    assert with_curl.startswith(shared_prefix)
    assert "# tzdata: used by many recipes on this base" in with_wget
    # without the shared layer the two have nothing in common after FROM
    flat = [compose(RecipeSnapshot(base_reference=BASE, base_os_family="debian", components=c)).dockerfile
            for c in [(starter("timezone", zone="Europe/Paris"), starter("wget")), (starter("curl"), starter("timezone", zone="UTC"))]]
    assert runs(flat[0])[0] != runs(flat[1])[0]


@pytest.fixture
def debian(db):
    return BaseImage.objects.create(slug="debian", name="Debian 12", repository="base/debian", tag="bookworm",
                                    digest="sha256:" + "3" * 64, layer_digests=["sha256:" + "4" * 64],
                                    os_family="debian", approved=True)


@pytest.fixture
def catalog_versions(db):
    versions = {}
    for spec in COMPONENTS:
        if spec["slug"] not in {"wget", "curl", "timezone", "runtime-user"}:
            continue
        component = Component.objects.create(slug=spec["slug"], name=spec["name"], kind=spec["kind"],
                                             order_weight=spec["order_weight"])
        version = spec["versions"][0]
        versions[spec["slug"]] = ComponentVersion.objects.create(
            component=component, version=version["version"], fragment=version["fragment"],
            final_fragment=version.get("final_fragment", ""), parameters=version.get("parameters", []),
            os_families=version["os_families"])
    return versions


@pytest.mark.django_db
def test_the_portal_counts_recipes_on_the_same_base_and_records_its_choice_on_the_build(
        team, member, debian, catalog_versions, settings):
    settings.SHARED_APT_LAYERS = 2
    v = catalog_versions
    user = (v["runtime-user"], {"uid": "10001"})
    other_base = BaseImage.objects.create(slug="debian-next", name="Debian 13", repository="base/debian", tag="trixie",
                                          digest="sha256:" + "5" * 64, layer_digests=["sha256:" + "6" * 64],
                                          os_family="debian", approved=True)
    assert shared_packages_for(debian) == ()  # no recipes yet: one flat transaction, as before
    recipe_save(user=member, team=team, name="a", base=debian, choices=[(v["timezone"], {"zone": "UTC"}), (v["wget"], {}), user])
    recipe_save(user=member, team=team, name="b", base=debian, choices=[(v["timezone"], {"zone": "Asia/Shanghai"}), (v["curl"], {}), user])
    for name in "cde":  # many curl recipes, but on another base: they do not count here
        recipe_save(user=member, team=team, name=name, base=other_base, choices=[(v["curl"], {}), user])
    assert shared_packages_for(debian) == ("tzdata",)
    assert shared_packages_for(other_base) == ("ca-certificates", "curl")

    recipe = Recipe.objects.get(name="a")
    build = build_request(user=member, recipe=recipe)
    build.refresh_from_db()
    assert build.snapshot["shared_packages"] == ["tzdata"]
    assert runs(build.dockerfile) == [transaction("tzdata"), transaction("wget")]

    settings.SHARED_APT_LAYERS = 0  # turned off: one transaction again
    assert runs(build_request(user=member, recipe=recipe, no_cache=True).dockerfile) == [transaction("tzdata", "wget")]
