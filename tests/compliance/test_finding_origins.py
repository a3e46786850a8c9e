"""The image report names what added each vulnerable package (the base, an option, a service, the
team's scripts or Dockerfile), filters by it with shareable URLs, and exports the same names."""
import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, Component, ComponentVersion
from catalog.starter import apt_install
from compliance.models import Advisory, Finding, ImageScan, SbomPackage
from compliance.policy import provenance
from tests.compliance.policy.test_origin_labels import legacy_history

pytestmark = pytest.mark.django_db
REPORT = "image-report"


def component(slug, name, kind, version, fragment):
    made = Component.objects.create(slug=slug, name=name, kind=kind, order_weight=10)
    return ComponentVersion.objects.create(component=made, version=version, os_families=["debian"], fragment=fragment)


@pytest.fixture
def built(team, member):
    """A composed recipe (an option and a service) on a one-layer base, built: its image's history is the
    composed Dockerfile's, plus a layer no line made (as a squashed or rewritten step leaves)."""
    base = BaseImage.objects.create(slug="debian-12", name="Debian 12", repository="base/debian", tag="12",
                                    digest="sha256:" + "1" * 64, layer_digests=["sha256:" + "2" * 64],
                                    os_family="debian", approved=True)
    wget = component("wget", "wget", "option", "1", apt_install("wget"))
    jre = component("jre", "Java runtime", "service", "17", apt_install("openjdk-17-jre-headless"))
    recipe = recipe_save(user=member, team=team, name="fetcher", base=base, choices=[(wget, {}), (jre, {})])
    build = build_request(user=member, recipe=recipe)
    history = legacy_history(build.dockerfile) + [{"created_by": "/bin/sh -c #(nop) ADD file:squashed in / "}]
    history = [h for h in history if not h.get("empty_layer")]
    scan = ImageScan.objects.create(build=build, digest="sha256:" + "9" * 64, status="done", os_id="debian",
                                    os_version="12", facts={"config": {"history": history}})
    layers = {"openssl": 0, "jdk": _layer(history, "openjdk"), "wget": _layer(history, "--no-install-recommends wget"),
              "tar": len(history) - 1, "lost": None}
    advisories = Advisory.objects.bulk_create([Advisory(source="osv", osv_id=f"OSV-{name}", modified=timezone.now(),
                                                        aliases=[], record={}) for name in layers])
    for (name, layer), advisory in zip(layers.items(), advisories):
        package = SbomPackage.objects.create(scan=scan, name=f"lib{name}", version="1", layer_index=layer)
        Finding.objects.create(scan=scan, package=package, advisory=advisory, vulnerability_id=f"CVE-{name}",
                               installed_version="1", fixed_version="2", severity="High", severity_source="record")
    return build


def _layer(history, text):
    [layer] = [i for i, entry in enumerate(history) if text in entry["created_by"]]
    return layer


def shown(client, build, **query) -> set[str]:
    page = client.get(reverse(REPORT, args=[build.pk]), query, HTTP_HX_REQUEST="true").content.decode()
    return {name for name in ("openssl", "jdk", "wget", "tar", "lost") if f"CVE-{name}" in page}


def test_each_finding_is_named_by_what_added_its_package(client, member, built):
    client.force_login(member)
    page = client.get(reverse(REPORT, args=[built.pk])).content.decode()
    for label in ("base Debian 12", "option wget 1", "service Java runtime 17", "layer unknown"):
        assert label in page
    squashed = len(built.scan.facts["config"]["history"]) - 1
    assert f"added (layer {squashed})" in page, "a layer no line made keeps its number, not a guessed name"
    assert '<option value="service" >Added by services</option>' in page


@pytest.mark.parametrize("origin, expected", [
    ("base", {"openssl"}), ("option", {"wget"}), ("service", {"jdk"}), ("unknown", {"tar", "lost"}),
    ("dockerfile", set()), ("script", set()),
    ("added", {"jdk", "wget", "tar"}),  # a link from before the kinds: anything above the base
    ("nonsense", {"openssl", "jdk", "wget", "tar", "lost"}),  # an edited link shows everything, not an error
])
def test_the_origin_filter_offers_the_kinds_and_keeps_old_links_working(client, member, built, origin, expected):
    client.force_login(member)
    assert shown(client, built, origin=origin) == expected


def test_the_filter_lives_in_the_url_and_the_csv_follows_it_with_the_names(client, member, built):
    client.force_login(member)
    page = client.get(reverse(REPORT, args=[built.pk]), {"origin": "option"}).content.decode()
    assert '<option value="option" selected>Added by options</option>' in page
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("image-report-csv", args=[built.pk]),
                                                      {"origin": "option"}).content.decode())))
    assert [(r["package"], r["origin"], r["origin_kind"]) for r in rows] == [("libwget", "option wget 1", "option")]
    everything = csv.DictReader(io.StringIO(client.get(reverse("image-report-csv", args=[built.pk])).content.decode()))
    assert {r["package"]: r["origin_kind"] for r in everything} == {
        "libopenssl": "base", "libjdk": "service", "libwget": "option", "libtar": "unknown", "liblost": "unknown"}


def test_the_dockerfile_is_parsed_once_per_page_however_many_findings(client, member, built, monkeypatch):
    parsed = []
    real = provenance._instructions
    monkeypatch.setattr(provenance, "_instructions", lambda *args, **kwargs: parsed.append(args[1]) or real(*args, **kwargs))
    client.force_login(member)
    client.get(reverse(REPORT, args=[built.pk]))
    assert parsed == ["Dockerfile", "stage 2"], "the build's Dockerfile and its script stage, once each"
    parsed.clear()
    client.get(reverse("image-report-csv", args=[built.pk]), {"origin": "service"})
    assert parsed == ["Dockerfile", "stage 2"]


def test_another_team_sees_neither_the_names_nor_the_filtered_rows(client, outsider, built):
    client.force_login(outsider)
    assert client.get(reverse(REPORT, args=[built.pk]), {"origin": "option"}).status_code == 404
    assert client.get(reverse("image-report-csv", args=[built.pk]), {"origin": "option"}).status_code == 404
