"""The Catalog pages for a new component, a new base image and re-pinning a base: platform admins
only; a refusal comes back on the form with what was typed and an error summary; success leads on
(the component's first version, the draft base's page, the base's rebuild plan)."""
import pytest
from django.urls import reverse

from adapters.factory import registry_client
from catalog.models import BaseImage, Component, Lifecycle, ProposalState
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db

NEW_COMPONENT = "/catalog/components/new"
NEW_BASE = "/catalog/bases/new"
BASE_FORM = {"slug": "busybox-new", "name": "BusyBox again", "repository": "base/busybox", "tag": "1.35", "os_family": "busybox",
             "os_release": "1.35", "description": ""}


def registry_digest() -> str:
    return registry_client("scanner").manifest("base/busybox", "1.35")[1]


@pytest.mark.parametrize("who", ["member", "reviewer"])
def test_only_platform_admins_get_the_pages(client, request, busybox, who):
    client.force_login(request.getfixturevalue(who))
    repin = reverse("catalog-base-repin", args=["busybox"])
    for url in (NEW_COMPONENT, NEW_BASE, repin):
        assert client.get(url).status_code == 403
    assert client.post(NEW_COMPONENT, {"slug": "htop", "name": "htop", "kind": "option", "order_weight": "10"}).status_code == 403
    assert client.post(NEW_BASE, BASE_FORM).status_code == 403
    assert client.post(repin).status_code == 403
    assert not Component.objects.exists() and BaseImage.objects.get().digest == busybox.digest
    assert not AuditEvent.objects.filter(action__startswith="catalog.").exists()


def test_the_catalog_links_both_forms(client, admin):
    client.force_login(admin)
    page = client.get(reverse("catalog-list")).content.decode()
    assert f'href="{NEW_COMPONENT}">New component</a>' in page and f'href="{NEW_BASE}">New base image</a>' in page


def test_an_admin_creates_a_component_and_lands_on_its_first_version(client, admin, busybox):
    client.force_login(admin)
    response = client.post(NEW_COMPONENT, {"slug": "htop", "name": "htop", "kind": "option", "description": "A viewer",
                                           "order_weight": "25"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("catalog-component-new-version", args=["htop"])
    page = response.content.decode()
    assert "Component htop is created. Teams are offered it only once a version of it is published" in page
    assert "The component has no version yet." in page and 'name="version" value="1"' in page
    assert Component.objects.get(slug="htop").order_weight == 25
    assert AuditEvent.objects.get(action="catalog.component.created").actor == admin


def test_a_refused_component_keeps_what_was_typed_with_an_error_summary(client, admin, runtime_user):
    client.force_login(admin)
    response = client.post(NEW_COMPONENT, {"slug": "runtime-user", "name": "Typed name", "kind": "service",
                                           "description": "Typed text", "order_weight": "abc"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="error-summary"' in page and '<a href="#field-slug">There is already a component runtime-user' in page
    assert '<a href="#field-order_weight">Give a whole number from 0 to 10000' in page
    assert 'value="Typed name"' in page and "Typed text</textarea>" in page and 'value="abc"' in page
    assert 'value="service" checked' in page and 'aria-invalid="true"' in page
    assert Component.objects.count() == 1


def test_an_admin_adds_a_base_from_the_registry_as_a_draft(services, client, admin):
    client.force_login(admin)
    response = client.post(NEW_BASE, {**BASE_FORM, "build_base": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("catalog-base", args=["busybox-new"])
    created = BaseImage.objects.get(slug="busybox-new")
    assert created.digest == registry_digest() and created.lifecycle == Lifecycle.DRAFT and created.approved and created.build_base
    page = response.content.decode()
    assert f"Base image BusyBox again is created as a draft, pinned to {created.digest}" in page
    assert "Publish BusyBox again…" in page, "the lifecycle move is offered on its page"


@pytest.mark.parametrize("changes, field, message", [
    ({"repository": "published/payments/pay-api"}, "repository", "A base cannot come from published/"),
    ({"repository": "quarantine/payments/pay-api"}, "repository", "A base cannot come from quarantine/"),
    ({"slug": "Busy Box"}, "slug", "Give a slug of lower-case letters"),
    ({"tag": "9.99"}, "tag", "The registry has no image base/busybox:9.99. Its tags: 1.35."),
])
def test_a_refused_base_keeps_what_was_typed_and_saves_nothing(services, client, admin, changes, field, message):
    client.force_login(admin)
    response = client.post(NEW_BASE, {**BASE_FORM, "description": "Typed text", **changes})
    assert response.status_code == 400
    page = response.content.decode()
    assert f'<a href="#field-{field}">{message}' in page and f'id="field-{field}-error"' in page
    assert "Typed text</textarea>" in page and f'value="{changes[field]}"' in page
    assert not BaseImage.objects.exists() and not AuditEvent.objects.exists()


def test_an_unreachable_registry_is_said_on_the_form(client, admin, settings):
    settings.REGISTRY_URL = "http://127.0.0.1:1"
    client.force_login(admin)
    response = client.post(NEW_BASE, BASE_FORM)
    assert response.status_code == 400
    assert '<a href="#field-registry">The registry cannot be read, so nothing was saved' in response.content.decode()
    assert not BaseImage.objects.exists()


def test_re_pin_is_confirmed_with_both_digests_then_opens_the_rebuild_plan(services, client, admin, busybox):
    client.force_login(admin)
    base_page = client.get(reverse("catalog-base", args=["busybox"])).content.decode()
    url = reverse("catalog-base-repin", args=["busybox"])
    assert f'href="{url}">Re-pin to the tag' in base_page
    current = registry_digest()
    confirm = client.get(url).content.decode()
    assert busybox.digest in confirm and current in confirm and "The tag points at another image now" in confirm
    assert BaseImage.objects.get(pk=busybox.pk).digest == busybox.digest, "the confirmation page changes nothing"
    response = client.post(url)
    assert response.status_code == 302 and response.url == f"{reverse('rebuild-new')}?subject=base%3Abusybox"
    assert BaseImage.objects.get(pk=busybox.pk).digest == current
    assert AuditEvent.objects.get(action="catalog.baseimage.pinned").data == {"before": busybox.digest, "digest": current}
    again = client.get(url).content.decode()
    assert "<strong>Nothing changes:</strong> the tag still points at the pinned digest" in again


def test_a_proposal_waiting_for_review_offers_no_re_pin(client, admin, busybox):
    BaseImage.objects.filter(pk=busybox.pk).update(proposal_state=ProposalState.PENDING, approved=False)
    client.force_login(admin)
    url = reverse("catalog-base-repin", args=["busybox"])
    assert url not in client.get(reverse("catalog-base", args=["busybox"])).content.decode()
    page = client.get(url).content.decode()
    assert "is a proposal waiting for review" in page and "Yes, re-pin" not in page
    response = client.post(url)
    assert response.status_code == 400 and "is a proposal waiting for review" in response.content.decode()
    assert BaseImage.objects.get(pk=busybox.pk).digest == busybox.digest
    assert not AuditEvent.objects.filter(action="catalog.baseimage.pinned").exists()
