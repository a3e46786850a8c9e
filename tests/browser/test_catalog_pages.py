"""Catalog curation in a real browser: a platform admin finds the component a recipe uses, sees who
uses it, deprecates its version for a newer one (confirming the impact); the team's member then
sees on the recipe's page that the version is deprecated, what replaces it and when it ends."""
import pytest

from builds.recipes.services import recipe_save
from catalog.models import ComponentVersion, Lifecycle
from portal.models import AuditEvent, GlobalRole
from tests.browser.conftest import SHOTS, main_nav
from tests.browser.test_compliance_pages import log_in
from tests.browser.test_people_and_teams import _fits
from tests.factories import UserFactory, with_role

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1400, 390])
def test_an_admin_deprecates_a_version_and_the_member_sees_the_notice(portal_url, page, member, team, busybox, runtime_user,
                                                                      width):
    recipe = recipe_save(user=member, team=team, name="pay-api", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
    ComponentVersion.objects.create(
        component=runtime_user.component, version="2", os_families=["busybox"], fragment="RUN true", final_fragment="USER {{ uid }}",
        parameters=runtime_user.parameters)
    with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, portal_url, "pat")

    main_nav(page).get_by_role("link", name="Catalog", exact=True).click()
    page.locator("#catalog-components").get_by_role("link", name="Non-root runtime user").click()
    used_by = page.locator("#used-by tbody tr")
    assert used_by.count() == 1 and "payments" in used_by.first.inner_text()
    used_by.first.get_by_role("link", name="pay-api").wait_for()
    _fits(page, "component page")
    page.screenshot(path=SHOTS / f"catalog-01-component-{width}.png", full_page=True)

    page.select_option(f"#replacement-{runtime_user.pk}", label="2")
    page.fill(f"#sunset-{runtime_user.pk}", "2099-01-31")
    page.get_by_role("button", name="Deprecate 1…").click()
    page.get_by_role("heading", name="Deprecate Non-root runtime user 1?").wait_for()
    assert "1 recipe of 1 team" in page.locator("#lifecycle-impact").inner_text()
    _fits(page, "lifecycle confirmation")
    page.screenshot(path=SHOTS / f"catalog-02-confirm-{width}.png", full_page=True)
    page.get_by_role("button", name="Yes, deprecate 1").click()
    page.get_by_text("Non-root runtime user 1 is now deprecated.").wait_for()
    assert ComponentVersion.objects.get(pk=runtime_user.pk).lifecycle == Lifecycle.DEPRECATED
    assert AuditEvent.objects.filter(action="catalog.version.deprecated").count() == 1

    page.context.clear_cookies()
    log_in(page, portal_url, member.username)
    page.goto(f"{portal_url}/recipes/{recipe.pk}/")
    notice = page.locator("#version-notices")
    text = " ".join(notice.inner_text().split())
    assert "Non-root runtime user 1 is deprecated, replaced by 2; sunset 2099-01-31" in text
    notice.get_by_role("link", name="Edit the recipe to use 2").wait_for()
    _fits(page, "recipe page with its notice")
    page.screenshot(path=SHOTS / f"catalog-03-recipe-notice-{width}.png", full_page=True)
