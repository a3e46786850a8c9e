"""A new component version on the Catalog pages: the form starts from the newest version; the
service (curation.versions) refuses what would not compose, created versions are drafts, audited;
only platform admins get in."""
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from catalog.models import Component, ComponentVersion, Lifecycle
from curation.lifecycle import version_transition
from curation.versions import VersionError, next_version, version_create
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db

UID = [{"name": "uid", "type": "integer", "label": "User id", "default": "10001", "min": 1000, "max": 65000}]


def create(user, component, **changes):
    values = {"version": "2", "os_families": ["busybox"], "fragment": "RUN echo app >> /etc/passwd",
              "final_fragment": "USER {{ uid }}", "parameters": UID, **changes}
    return version_create(user=user, component=component, **values)


def refusal(user, component, **changes) -> dict:
    with pytest.raises(VersionError) as refused:
        create(user, component, **changes)
    assert not component.versions.exclude(version="1").exists()
    return refused.value.errors


def test_the_form_is_filled_in_from_the_newest_version_with_the_next_number(client, admin, busybox, runtime_user):
    client.force_login(admin)
    page = client.get(reverse("catalog-component", args=["runtime-user"])).content.decode()
    url = reverse("catalog-component-new-version", args=["runtime-user"])
    assert f'href="{url}" id="new-version">New version</a>' in page
    text = client.get(url).content.decode()
    assert 'name="version" value="2"' in text and "Filled in from version 1" in text
    assert 'value="busybox" checked' in text and 'value="debian" checked' in text  # debian has no base here, kept
    assert "RUN echo app &gt;&gt; /etc/passwd</textarea>" in text and "USER {{ uid }}</textarea>" in text
    assert "&quot;min&quot;: 1000" in text
    assert next_version("0.8.12") == "0.8.13" and next_version("17-r2") == "17-r3" and next_version("latest") == ""


def test_an_admin_creates_a_draft_on_the_page_then_publishes_it(client, admin, busybox, runtime_user):
    client.force_login(admin)
    url = reverse("catalog-component-new-version", args=["runtime-user"])
    form = {"version": "2", "os_families": ["busybox"], "fragment": "RUN echo app:x:{{ uid }} >> /etc/passwd",
            "final_fragment": "USER {{ uid }}", "parameters": json.dumps(UID), "requires": "", "conflicts": ""}
    response = client.post(url, form, follow=True)
    assert response.redirect_chain[-1][0] == reverse("catalog-component", args=["runtime-user"]) + "#version-2"
    assert "Non-root runtime user 2 is created as a draft" in response.content.decode()
    created = ComponentVersion.objects.get(component=runtime_user.component, version="2")
    assert created.lifecycle == Lifecycle.DRAFT and created.parameters == UID and created.os_families == ["busybox"]
    assert runtime_user.component.latest_version() == runtime_user  # a draft is offered to nobody
    event = AuditEvent.objects.get(action="catalog.version.created")
    assert event.actor == admin and event.data["version"] == "2" and event.data["parameters"] == ["uid"]
    version_transition(user=admin, version=created, to=Lifecycle.PUBLISHED)
    assert runtime_user.component.latest_version() == created


def test_a_bad_form_comes_back_with_an_error_summary_and_what_was_typed(client, admin, busybox, runtime_user):
    client.force_login(admin)
    response = client.post(reverse("catalog-component-new-version", args=["runtime-user"]),
                           {"version": "1", "os_families": ["busybox"], "fragment": "RUN true", "parameters": "[{oops"})
    text = response.content.decode()
    assert response.status_code == 400 and "There is a problem" in text and 'href="#field-parameters"' in text
    assert "The parameters are not valid JSON" in text and "[{oops</textarea>" in text
    assert ComponentVersion.objects.filter(component=runtime_user.component).count() == 1


def test_the_service_refuses_a_schema_the_composer_cannot_read(admin, busybox, runtime_user):
    component = runtime_user.component
    assert "a string needs a pattern" in refusal(admin, component, parameters=[{"name": "uid", "type": "string"}])["parameters"][0]
    assert "not a regular expression" in refusal(admin, component, parameters=[
        {"name": "uid", "type": "string", "pattern": "[a-"}])["parameters"][0]
    assert "the default: must be between 1000 and 65000" in refusal(admin, component, parameters=[
        {**UID[0], "default": "5"}])["parameters"][0]
    assert "given twice" in refusal(admin, component, parameters=UID + UID)["parameters"][0]
    assert refusal(admin, component, parameters={"name": "uid"})["parameters"] == ["Give a list (JSON [...])."]
    assert refusal(admin, component, requires="jre")["requires"] == ["Give a list (JSON [...])."]
    assert "object with a name and a type" in refusal(admin, component, parameters=["uid"])["parameters"][0]
    assert "has no parameter" in refusal(admin, component, parameters=[])["fragment"][0]


def test_the_service_refuses_a_duplicate_or_malformed_version(admin, busybox, runtime_user):
    assert "already has a version 1" in refusal(admin, runtime_user.component, version="1")["version"][0]
    assert "Give a version" in refusal(admin, runtime_user.component, version="2; rm -rf /")["version"][0]
    assert "Tick at least one OS family" in refusal(admin, runtime_user.component, os_families=[])["os_families"][0]
    assert "include one of busybox" in refusal(admin, runtime_user.component, os_families=["debain"])["os_families"][0]


def test_the_service_refuses_fragments_that_do_not_compose(admin, busybox, runtime_user):
    component = runtime_user.component
    assert "Instruction FROM is not allowed" in refusal(admin, component, fragment="FROM evil\nRUN true")["fragment"][0]
    # Each check above passes; the composer, on the sample recipe, finds the needed component cannot go on this base.
    jre = Component.objects.create(slug="jre", name="Java runtime", kind="service")
    ComponentVersion.objects.create(component=jre, version="17", os_families=["debian"], fragment="RUN true")
    errors = refusal(admin, component, requires=["jre"])
    assert errors["fragment"] == ["Composed into a sample recipe on BusyBox, it does not compose: The selection is not "
                                  "consistent. (jre: Java runtime is not available on busybox bases (debian only).)"]
    assert "not a component of the catalog: nope" in refusal(admin, component, requires=["nope"])["requires"][0].lower()


def test_every_parameter_type_is_composed_with_a_sample_value(admin, busybox, runtime_user):
    specs = [{"name": "cert", "type": "pem"}, {"name": "zone", "type": "timezone"}, {"name": "mode", "type": "choice",
             "choices": ["a", "b"]}, {"name": "tag", "type": "string", "pattern": "[A-Z]+"}, {"name": "port", "type": "port"}]
    created = create(admin, runtime_user.component, parameters=UID + specs, final_fragment="USER {{ uid }}",
                     fragment="COPY {{ cert }} /etc/ca.pem\nENV TZ={{ zone }} MODE={{ mode }} TAG={{ tag }}\nEXPOSE {{ port }}")
    assert created.lifecycle == Lifecycle.DRAFT


def test_members_and_reviewers_get_403_and_the_service_refuses_them(client, member, reviewer, busybox, runtime_user):
    url = reverse("catalog-component-new-version", args=["runtime-user"])
    for user in (member, reviewer):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"version": "2", "os_families": ["busybox"], "fragment": "RUN true", "parameters": "[]"}
                           ).status_code == 403
        with pytest.raises(PermissionDenied):
            create(user, runtime_user.component)
    assert ComponentVersion.objects.filter(component=runtime_user.component).count() == 1
    assert not AuditEvent.objects.filter(action="catalog.version.created").exists()
