"""The builder in a real browser, editing a recipe whose base and component version were deprecated:
the preview warns, naming each replacement and sunset date; choosing the replacement version in its
select updates the preview (htmx) and the version's warning goes. At 1400 px and 390 px, with axe."""
import pytest
from playwright.sync_api import expect

from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in
from tests.browser.test_people_and_teams import _fits
from tests.builds.recipes.test_deprecation_warnings import BASE_WARNING, VERSION_WARNING, deprecated  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1400, 390])
def test_the_builder_warns_of_deprecated_choices_until_the_team_moves(portal_url, page, member, recipe, deprecated,  # noqa: F811
                                                                      width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, portal_url, member.username)
    page.goto(f"{portal_url}/recipes/{recipe.pk}/edit")
    warnings = page.locator("#preview-warnings")
    text = " ".join(warnings.inner_text().split())
    assert VERSION_WARNING in text and BASE_WARNING in text
    _fits(page, "builder with warnings")
    axe_check(page, f"builder-deprecated-{width}")
    page.screenshot(path=SHOTS / f"builder-deprecated-{width}.png", full_page=True)

    page.select_option("#version-runtime-user", "2")
    expect(warnings).not_to_contain_text("Non-root runtime user 1")  # the preview came back without it
    assert BASE_WARNING in " ".join(warnings.inner_text().split())
