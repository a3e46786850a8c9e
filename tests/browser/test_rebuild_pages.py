"""A platform admin's rebuild in a real browser: plan a component upgrade (impact and dry run),
run it after the confirmation, and follow the batch page, which polls until every build is done.

The builds are requested but never dispatched to a worker (the session's Celery worker would
otherwise run them on the Docker Engine): the test plays the worker by finishing them in the
database, and the page's polling picks that up."""
import pytest

from builds import services as build_services
from builds.models import Build
from builds.recipes.services import recipe_save
from catalog.models import ComponentVersion
from curation.models import RebuildBatch
from portal.models import GlobalRole
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS, main_nav
from tests.browser.test_compliance_pages import log_in
from tests.browser.test_people_and_teams import _fits
from tests.factories import UserFactory, with_role

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1400, 390])
def test_an_admin_plans_dry_runs_runs_and_follows_a_rebuild(portal_url, page, member, team, busybox, runtime_user,
                                                            monkeypatch, width):
    monkeypatch.setattr(build_services, "build_dispatch", lambda build_id: None)
    for name, uid in (("pay-api", "2000"), ("pay-web", "10001")):
        recipe_save(user=member, team=team, name=name, base=busybox, choices=[(runtime_user, {"uid": uid})])
    ComponentVersion.objects.create(
        component=runtime_user.component, version="2", os_families=["busybox"], fragment="RUN true", final_fragment="USER {{ uid }}",
        parameters=[{"name": "uid", "type": "integer", "default": "1001", "min": 1000, "max": 5000}])
    with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, portal_url, "pat")

    main_nav(page).get_by_role("link", name="Rebuilds").click()
    page.get_by_text("No rebuild yet.").wait_for()
    axe_check(page, f"rebuild-00-none-{width}")
    page.get_by_role("link", name="Plan a rebuild").first.click()
    page.select_option("#field-subject", "component:runtime-user")
    page.get_by_label("Move every recipe to the component's latest published version first").check()
    page.get_by_role("button", name="Show the plan and dry run").click()
    page.get_by_role("heading", name="Impact: component Non-root runtime user (move to 2)").wait_for()
    rows = page.locator("#plan-table tbody tr")
    assert rows.count() == 2
    assert "Would build" in rows.nth(0).inner_text() and "pay-api" in rows.nth(0).inner_text()
    assert "Would fail" in rows.nth(1).inner_text() and "Some parameters are not valid" in rows.nth(1).inner_text()
    assert "1 → 2" in rows.nth(0).inner_text().replace("\n", " ")
    _fits(page, "rebuild plan")
    page.screenshot(path=SHOTS / f"rebuild-01-plan-{width}.png", full_page=True)
    axe_check(page, f"rebuild-01-plan-{width}")
    assert not RebuildBatch.objects.exists(), "the dry run changes nothing"

    page.get_by_role("button", name="Run rebuild…").click()
    page.get_by_text("Request 1 build?").wait_for()
    page.screenshot(path=SHOTS / f"rebuild-02-confirm-{width}.png", full_page=True)
    axe_check(page, f"rebuild-02-confirm-{width}")
    page.get_by_role("button", name="Yes, run the rebuild").click()
    batch = RebuildBatch.objects.get()
    page.get_by_role("heading", name=f"Rebuild #{batch.pk}: component Non-root runtime user (moved to 2)").wait_for()
    items = page.locator("#rebuild-items tbody tr")
    assert items.count() == 2
    assert "Requested" in items.nth(0).inner_text() and "#" in items.nth(0).get_by_role("link").last.inner_text()
    assert "Failed to compose" in items.nth(1).inner_text()
    items.nth(1).get_by_role("button", name="Retry payments/pay-web").wait_for()
    assert page.get_attribute("#rebuild-progress", "data-settled") == "false"
    _fits(page, "rebuild batch")
    page.screenshot(path=SHOTS / f"rebuild-03-batch-{width}.png", full_page=True)
    axe_check(page, f"rebuild-03-batch-{width}")

    # The worker's part: the build finishes and is published; the polling page follows, then stops.
    Build.objects.filter(rebuild_items__batch=batch).update(status=Build.Status.SUCCEEDED, published_reference="r/p:1")
    page.locator("#rebuild-progress[data-settled=true]").wait_for(timeout=15000)
    assert "Published" in page.locator("#rebuild-items tbody tr").nth(0).inner_text()
    assert page.get_attribute("#rebuild-progress", "hx-trigger") is None
    assert "finished" in page.locator("#sr-status").inner_text()
    page.screenshot(path=SHOTS / f"rebuild-04-settled-{width}.png", full_page=True)
    axe_check(page, f"rebuild-04-settled-{width}")

    page.get_by_role("link", name="Past rebuilds").click()
    page.locator("#rebuild-batches").get_by_role("link", name=f"#{batch.pk}").wait_for()
