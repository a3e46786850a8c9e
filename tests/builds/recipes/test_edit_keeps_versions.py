"""Editing a recipe keeps the component versions it was saved with: the form sends the version it
shows, so a version published between opening the page and saving it, or the builder's default of
the latest version, never moves a recipe on unasked. Links to a configuration carry the versions too."""
import html
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from catalog.models import ComponentVersion
from tests.builds.recipes.test_share_link import preview, share_url

pytestmark = pytest.mark.django_db


class _FormFields(HTMLParser):
    """What a browser sends for the builder form as the page renders it (no script run): text and
    hidden inputs, ticked checkboxes and radios, each select's selected option, textareas."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("type", "text") not in ("submit", "button", "file"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value") or ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.fields.append((a["name"], ""))

    def handle_data(self, data):
        if self._textarea:
            self.fields[-1] = (self._textarea, self.fields[-1][1] + data)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_as_sent(page: str) -> dict:
    start = page.index('id="recipe-form"')
    form = page[start:page.index('</form>', start)]
    parser = _FormFields()
    parser.feed(form)
    sent: dict[str, list[str]] = {}
    for name, value in parser.fields:
        sent.setdefault(name, []).append(value)
    sent.pop("csrfmiddlewaretoken", None)
    return sent


def test_saving_the_edit_page_as_shown_keeps_the_version_when_a_newer_one_appears(client, member, recipe, runtime_user):
    client.force_login(member)
    sent = form_as_sent(client.get(reverse("recipe-edit", args=[recipe.pk])).content.decode())
    assert sent["version-runtime-user"] == ["1"], "the one version offered is sent with the form"
    ComponentVersion.objects.create(component=runtime_user.component, version="2", os_families=["busybox"],
                                    fragment="RUN true", final_fragment="USER {{ uid }}", parameters=runtime_user.parameters)
    response = client.post(reverse("recipe-edit", args=[recipe.pk]), {**sent, "action": "save"})
    assert response.status_code == 302, html.unescape(response.content.decode())[:3000]
    assert [c.version.version for c in recipe.choices.select_related("version")] == ["1"], "not moved to 2"


def test_saving_the_edit_page_as_shown_keeps_an_older_published_version(client, member, recipe, runtime_user):
    ComponentVersion.objects.create(component=runtime_user.component, version="2", os_families=["busybox"],
                                    fragment="RUN true", final_fragment="USER {{ uid }}", parameters=runtime_user.parameters)
    client.force_login(member)
    sent = form_as_sent(client.get(reverse("recipe-edit", args=[recipe.pk])).content.decode())
    response = client.post(reverse("recipe-edit", args=[recipe.pk]), {**sent, "action": "save"})
    assert response.status_code == 302
    assert [c.version.version for c in recipe.choices.select_related("version")] == ["1"]


@pytest.fixture
def version_two(runtime_user):
    return ComponentVersion.objects.create(
        component=runtime_user.component, version="2", os_families=["busybox"], fragment="RUN true",
        final_fragment="USER {{ uid }}",
        parameters=runtime_user.parameters + [{"name": "gid", "type": "integer", "default": "10001", "min": 1000, "max": 65000}])


def test_a_link_carries_the_versions_and_opens_on_them(client, member, busybox, runtime_user, version_two):
    client.force_login(member)
    url = share_url(preview(client, base="busybox", component=["runtime-user"], **{"version-runtime-user": "1"}))
    assert parse_qs(urlsplit(url).query)["version-runtime-user"] == ["1"]
    page = client.get(url).content.decode()
    assert 'id="link-notices"' not in page
    assert '<option value="1" selected>1</option>' in page
    assert form_as_sent(page)["version-runtime-user"] == ["1"]


def test_a_link_naming_a_retired_or_unknown_version_opens_on_the_latest_with_a_notice(client, member, busybox,
                                                                                      runtime_user, version_two):
    runtime_user.lifecycle = "retired"
    runtime_user.save(update_fields=["lifecycle"])
    client.force_login(member)
    for named in ("1", "7"):
        page = html.unescape(client.get(reverse("recipe-new"), {"base": "busybox", "component": "runtime-user",
                                                                "version-runtime-user": named}).content.decode())
        assert "names a version of Non-root runtime user the builder does not offer; its latest published version, 2" in page
        assert form_as_sent(page)["version-runtime-user"] == ["2"]


def test_a_link_fills_the_parameters_of_the_version_it_names(client, member, busybox, runtime_user, version_two):
    """Version 2 has a parameter version 1 lacks: a link to version 1 leaves it out with a notice."""
    client.force_login(member)
    page = html.unescape(client.get(reverse("recipe-new"), {
        "base": "busybox", "component": "runtime-user", "version-runtime-user": "1",
        "param-runtime-user-uid": "12000", "param-runtime-user-gid": "12001"}).content.decode())
    assert "1 of the link's parameters is not a parameter of a ticked component" in page
    assert form_as_sent(page)["param-runtime-user-uid"] == ["12000"]
    assert not re.search(r'name="param-runtime-user-gid"', page)
