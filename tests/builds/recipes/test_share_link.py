"""The builder's link to a configuration: the preview gives it (a plain link, no JavaScript needed),
opening it fills the builder with the same base, components and parameters, and everything a link
carries is checked on the way in: what is unknown or not valid is left out with a notice, never an
error page, and reaches no Dockerfile."""
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from builds.models import Recipe
from catalog.models import BaseImage, Component, ComponentVersion
from tests.builds.recipes.test_private_keys import KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def timezone_option(db):
    component = Component.objects.create(slug="timezone", name="Time zone", kind="option", order_weight=10)
    return ComponentVersion.objects.create(
        component=component, version="2", os_families=["busybox"], fragment="ENV TZ={{ zone }}",
        parameters=[{"name": "zone", "type": "timezone", "label": "Zone", "default": "UTC"}])


@pytest.fixture
def ca_option(db):
    component = Component.objects.create(slug="ca-certificate", name="Company CA", kind="option", order_weight=30)
    return ComponentVersion.objects.create(
        component=component, version="1", os_families=["busybox"],
        parameters=[{"name": "certificate", "type": "pem", "label": "CA certificate (PEM)"}],
        fragment="COPY {{ certificate }} /usr/local/share/ca-certificates/extra.crt")


def share_url(page: str) -> str:
    return html.unescape(re.search(r'<a href="([^"]+)" id="share-link">Link to this configuration</a>', page)[1])


def preview(client, **data) -> str:
    return client.post(reverse("recipe-preview"), data).content.decode()


def dockerfile_of(page: str) -> str:
    return html.unescape(re.search(r'id="dockerfile-preview" tabindex="0"><code>(.*?)</code>', page, re.S)[1])


def test_the_link_opens_the_builder_with_the_same_configuration(client, member, busybox, runtime_user, timezone_option):
    client.force_login(member)
    shown = preview(client, team="payments", name="pay-api", base="busybox", component=["runtime-user", "timezone"],
                    **{"param-runtime-user-uid": "12000", "param-timezone-zone": "Europe/Paris", "cap_add": "net_bind_service"})
    url = share_url(shown)
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == reverse("recipe-new")
    assert sorted(query.pop("component")) == ["runtime-user", "timezone"]
    assert query == {"base": ["busybox"], "param-runtime-user-uid": ["12000"], "param-timezone-zone": ["Europe/Paris"],
                     "version-runtime-user": ["1"], "version-timezone": ["2"],
                     "cap_add": ["NET_BIND_SERVICE"]}, "no team, name or artifact"

    opened = client.get(url)
    page = opened.content.decode()
    assert opened.status_code == 200 and 'id="link-notices"' not in page
    assert 'value="busybox" checked' in page and 'value="runtime-user" checked' in page and 'value="timezone" checked' in page
    assert 'value="12000"' in page and 'value="Europe/Paris"' in page and 'value="NET_BIND_SERVICE"' in page
    assert dockerfile_of(page) == dockerfile_of(shown), "the same Dockerfile, composed again from the link"
    assert share_url(page) == url, "the link of what the link opened is the same link"
    assert not Recipe.objects.exists()


def test_a_configuration_without_components_says_so_and_stays_without(client, member, busybox, runtime_user):
    client.force_login(member)
    url = share_url(preview(client, base="busybox"))
    assert parse_qs(urlsplit(url).query, keep_blank_values=True)["component"] == [""]
    assert 'value="runtime-user" checked' not in client.get(url).content.decode(), "not the builder's default"


def test_a_hostile_link_is_filled_only_with_what_the_catalog_offers(client, member, other_team, busybox, runtime_user):
    BaseImage.objects.create(slug="unapproved", name="Unapproved", repository="base/x", tag="1", digest="sha256:" + "5" * 64,
                             os_family="busybox", approved=False)
    client.force_login(member)
    evil = '"><script>alert(1)</script>'
    response = client.get(reverse("recipe-new"), {
        "base": "unapproved", "component": ["runtime-user", "../../srv/loot", evil, "runtime-user"],
        "param-runtime-user-uid": "0; rm -rf /", "param-runtime-user-shell": "/bin/sh", "param-nope-x": "1",
        "version-runtime-user": "99", "version-ghost": "1", "team": other_team.slug, "name": evil,
        "cap_add": "SYS_ADMIN;reboot", "privileged": "maybe"})
    page = response.content.decode()
    assert response.status_code == 200
    notices = html.unescape(page.split('id="link-notices"', 1)[1].split("</div>", 1)[0])
    for said in ("base image is not one you can choose", "2 of the link's components are not in the catalog",
                 "Non-root runtime user · uid: the link's value is not valid, so the default is used",
                 "2 of the link's parameters are not a parameter of a ticked component",
                 "names a version of Non-root runtime user the builder does not offer; its latest published version, 1",
                 "names a version of a component it does not tick", "a team you are not in",
                 "image name is not a valid name", "extra capabilities are not Linux capabilities"):
        assert said in notices, said
    for leaked in ("<script>", "rm -rf", "srv/loot", "SYS_ADMIN", "unapproved", "/bin/sh"):
        assert leaked not in page, leaked
    assert 'value="busybox" checked' in page and 'value="runtime-user" checked' in page
    assert "USER 10001" in dockerfile_of(page) and 'name="privileged" value="1" checked' not in page


def test_a_private_key_in_a_link_is_refused_and_never_sent_back(client, member, busybox, ca_option):
    client.force_login(member)
    page = client.get(reverse("recipe-new"), {"base": "busybox", "component": "ca-certificate",
                                              "param-ca-certificate-certificate": KEY}).content.decode()
    assert "Company CA · CA certificate (PEM): the link's value is not valid" in html.unescape(page)
    assert KEY.strip().splitlines()[1] not in page


def test_certificates_stay_out_of_links_and_links_stay_short(client, member, busybox, ca_option, pem, runtime_user):
    client.force_login(member)
    shown = preview(client, base="busybox", component=["ca-certificate", "runtime-user"],
                    **{"param-ca-certificate-certificate": pem})
    url = share_url(shown)
    assert "certificate" not in parse_qs(urlsplit(url).query).get("param-ca-certificate-certificate", [""])[0]
    assert "BEGIN" not in url and len(url) < 2100
    assert "but not Company CA · CA certificate (PEM) (too long for a link)" in html.unescape(shown)


def test_a_link_with_more_settings_than_django_reads_is_set_aside_with_a_notice(client, member, busybox, runtime_user):
    client.force_login(member)
    response = client.get(reverse("recipe-new") + "?" + "&".join(f"component=c{n}" for n in range(1100)))
    assert response.status_code == 200
    assert "more settings than the builder reads" in response.content.decode()
