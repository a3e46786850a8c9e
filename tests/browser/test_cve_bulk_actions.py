"""The CVE page's bulk actions in a real browser, at 1400 px and on a phone (390 px): a team member
finds the CVE (the search in the navigation), sees both of the team's images it affects, rebuilds
the one a fixed version cures after a confirmation, and requests an exception for the other (a bad
request first: nothing is created, what was typed stays). axe, a screenshot and the width check on
every page.

No worker runs here: the builds are requested, not dispatched (what is tested is what the pages ask
for and record)."""
import datetime

import pytest

from builds import services as build_services
from builds.models import Build
from compliance.models import Finding, PolicyException
from tests.browser.conftest import main_nav, page_check
from tests.browser.test_compliance_pages import log_in
from tests.compliance.fleet import fleet_grow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CVE = "CVE-2026-0002"  # the fleet's second advisory: no fixed version on any image, until one is given below


@pytest.fixture
def two_images(team, member, reviewer):
    """Two current images of the member's team carrying CVE: image-0 with a fixed version known, image-1 without."""
    fixable, unfixed = fleet_grow(teams=[team], requester=member, reviewer=reviewer, images=2, findings_per_image=2)
    Finding.objects.filter(scan__build=fixable, vulnerability_id=CVE).update(fixed_version="1.0-2")
    return fixable, unfixed


@pytest.mark.parametrize("width", [1400, 390])
def test_a_member_rebuilds_the_fixable_image_and_requests_an_exception_for_the_other(
        portal_url, page, member, two_images, monkeypatch, width):
    monkeypatch.setattr(build_services, "build_dispatch", lambda build_id: None)
    fixable, unfixed = two_images
    page.set_viewport_size({"width": width, "height": 900 if width > 760 else 844})
    log_in(page, portal_url, member.username)
    search = main_nav(page).get_by_role("searchbox", name="Search images, builds, packages or vulnerabilities")
    search.fill(CVE.lower())
    search.press("Enter")
    page.get_by_role("heading", name="Impact on current images: 2 images · 1 team · 1 fixable by a rebuild").wait_for()
    rows = page.get_by_role("table").locator("tbody tr")
    assert sorted(rows.nth(i).get_by_role("link").inner_text() for i in range(rows.count())) == ["image-0", "image-1"]
    page_check(page, f"cve-actions-01-page-{width}")

    page.get_by_role("link", name="Rebuild 1 image with a fix").click()
    page.get_by_role("heading", name="Rebuild your images that a fix would cure").wait_for()
    listed = page.get_by_role("table").locator("tbody tr")
    assert listed.count() == 1 and "image-0" in listed.inner_text() and "lib1 1.0-2" in listed.inner_text()
    assert Build.objects.count() == 2, "nothing is built before the confirmation"
    page_check(page, f"cve-actions-02-rebuild-confirm-{width}")
    page.get_by_role("button", name="Rebuild 1 image").click()
    new = Build.objects.exclude(pk__in=[fixable.pk, unfixed.pk]).get()
    page.locator(".message.success", has_text=f"payments/image-0: build #{new.pk} requested").wait_for()
    assert new.recipe_id == fixable.recipe_id and new.status == Build.Status.QUEUED and new.no_cache
    assert CVE in new.reason and "lib1 1.0-2" in new.reason
    assert not Build.objects.filter(recipe=unfixed.recipe).exclude(pk=unfixed.pk).exists(), "no fix, no rebuild"
    page_check(page, f"cve-actions-03-rebuilt-{width}")

    page.get_by_role("link", name="Request exceptions for 1 image without a fix").click()
    page.get_by_role("heading", name=f"Request exceptions for {CVE}").wait_for()
    assert "image-1" in page.get_by_role("table").locator("tbody").inner_text()
    assert "image-0" not in page.get_by_role("table").locator("tbody").inner_text()
    page.get_by_label("Justification").fill("Too short.")
    page.get_by_label("Expires on").fill((datetime.date.today() + datetime.timedelta(days=30)).isoformat())
    page.get_by_role("button", name="Send 1 request for review").click()
    page.get_by_role("heading", name="There is a problem").wait_for()
    assert page.get_by_label("Justification").input_value() == "Too short.", "what was typed stays"
    assert not PolicyException.objects.filter(target=CVE).exists()
    page_check(page, f"cve-actions-04-exceptions-error-{width}")
    page.get_by_label("Justification").fill("No fix upstream yet; the service is internal and lib1 is never loaded.")
    page.get_by_role("button", name="Send 1 request for review").click()
    requested = PolicyException.objects.get(target=CVE)
    page.locator(".message.success", has_text=f"payments/image-1: exception request {requested.pk}").wait_for()
    assert (requested.recipe_id, requested.status, requested.target_kind, requested.requested_by) == (
        unfixed.recipe_id, PolicyException.Status.PENDING, "vulnerability", member)
    assert requested.end_when_fixed
    page_check(page, f"cve-actions-05-exceptions-requested-{width}")
