"""New catalog entries without the Django admin, in a real browser at 1400 and 390 px: a platform admin
creates a component from the Catalog page (meeting the error summary first) and lands on its first
version; adds a base from the registry's base/busybox:1.35 (a tag it does not have is refused
first), publishes it, and re-pins it to land on its rebuild plan. axe on each page; no page wider
than the window."""
import pytest

from adapters.factory import registry_client
from catalog.models import BaseImage, Component, Lifecycle
from portal.models import AuditEvent, GlobalRole
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in
from tests.browser.test_people_and_teams import _fits
from tests.factories import UserFactory, with_role

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _checked(page, name, width):
    axe_check(page, f"{name}-{width}")
    _fits(page, name)
    page.screenshot(path=SHOTS / f"catalog-entries-{name}-{width}.png", full_page=True)


@pytest.mark.parametrize("width", [1400, 390])
def test_an_admin_adds_a_component_and_a_base_then_re_pins_it(portal_url, page, services, width):
    with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, portal_url, "pat")

    page.goto(f"{portal_url}/catalog/")
    page.get_by_role("link", name="New component").click()
    page.get_by_role("heading", name="New component").wait_for()
    _checked(page, "component-new", width)
    page.fill("#field-slug", "JaCoCo")
    page.fill("#field-name", "JaCoCo coverage agent")
    page.get_by_label("Marketplace service").check()
    page.fill("#field-order_weight", "40")
    page.get_by_role("button", name="Create the component").click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert "Give a slug of lower-case letters" in summary.inner_text()
    assert page.locator("#field-name").input_value() == "JaCoCo coverage agent", "what was typed is kept"
    _checked(page, "component-errors", width)
    page.fill("#field-slug", "jacoco")
    page.get_by_role("button", name="Create the component").click()
    page.get_by_role("heading", name="New version of JaCoCo coverage agent").wait_for()
    assert "Teams are offered it only once a version of it is published" in page.inner_text("main")
    assert Component.objects.get(slug="jacoco").kind == "service"
    _checked(page, "component-first-version", width)

    page.goto(f"{portal_url}/catalog/")
    page.get_by_role("link", name="New base image").click()
    page.get_by_role("heading", name="New base image").wait_for()
    page.fill("#field-slug", "busybox-copy")
    page.fill("#field-name", "BusyBox copy")
    page.fill("#field-repository", "base/busybox")
    page.fill("#field-tag", "9.99")
    page.fill("#field-os_family", "busybox")
    page.get_by_role("button", name="Read the registry and create the draft").click()
    page.locator("#error-summary").wait_for()
    assert "The registry has no image base/busybox:9.99. Its tags: 1.35." in page.locator("#error-summary").inner_text()
    assert not BaseImage.objects.exists()
    _checked(page, "base-errors", width)
    page.fill("#field-tag", "1.35")
    page.get_by_role("button", name="Read the registry and create the draft").click()
    page.get_by_text("Base image BusyBox copy is created as a draft").wait_for()
    digest = registry_client("scanner").manifest("base/busybox", "1.35")[1]
    assert BaseImage.objects.get(slug="busybox-copy").digest == digest
    _checked(page, "base-draft", width)

    page.get_by_role("button", name="Publish BusyBox copy…").click()
    page.get_by_role("button", name="Yes, publish BusyBox copy").click()
    page.get_by_text("BusyBox copy is now published").wait_for()
    assert BaseImage.objects.get(slug="busybox-copy").lifecycle == Lifecycle.PUBLISHED

    # The tag moved since (as if base/busybox:1.35 were pushed again): the page shows both digests.
    stale = "sha256:" + "1" * 64
    BaseImage.objects.filter(slug="busybox-copy").update(digest=stale)
    page.reload()
    page.get_by_role("link", name="Re-pin to the tag's digest now…").click()
    page.get_by_role("heading", name="Re-pin BusyBox copy?").wait_for()
    facts = page.locator("#repin-digests").inner_text()
    assert stale in facts and digest in facts and "The tag points at another image now" in page.inner_text("main")
    _checked(page, "repin-confirm", width)
    page.get_by_role("button", name="Yes, re-pin busybox-copy").click()
    page.get_by_role("heading", name="Plan a rebuild").wait_for()
    assert "subject=base%3Abusybox-copy" in page.url
    assert f"BusyBox copy is pinned to {digest}" in page.inner_text("main")
    assert BaseImage.objects.get(slug="busybox-copy").digest == digest
    assert AuditEvent.objects.get(action="catalog.baseimage.pinned").data == {"before": stale, "digest": digest}
    _checked(page, "repin-plan", width)
