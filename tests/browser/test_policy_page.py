"""In a real browser: a team member sets how an image runs, the live preview says what the
runtime rule will decide, the recipe page shows the settings and links to the team's policy."""
import pytest

from compliance.models import PolicyRule
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_previews_and_saves_runtime_settings_against_the_teams_policy(portal_url, recipe, member, team, page):  # noqa: F811
    PolicyRule.objects.create(kind="runtime-privileges", params={"allow_privileged": False,
                                                                "allowed_capabilities": ["NET_BIND_SERVICE"]})
    PolicyRule.objects.create(team=team, kind="banned-packages", action="warn", params={"packages": [{"name": "telnet"}]})
    log_in(page, portal_url, member.username)
    page.goto(f"{portal_url}/recipes/{recipe.pk}/edit")
    page.get_by_label("Run privileged").check()
    page.locator("#preview", has_text="runs privileged").wait_for()
    page.get_by_label("Run privileged").uncheck()
    page.get_by_label("Extra Linux capabilities").fill("NET_BIND_SERVICE, NET_ADMIN")
    page.locator("#preview", has_text="adds capabilities that are not allowed: NET_ADMIN").wait_for()
    page.screenshot(path=SHOTS / "20-runtime-preview.png", full_page=True)
    axe_check(page, "20-runtime-preview")
    page.get_by_role("button", name="Save recipe").click()
    page.get_by_text("no extra capabilities").or_(page.get_by_text("adds NET_ADMIN")).first.wait_for()
    page.get_by_role("link", name="Rules for Payments images").click()
    page.get_by_role("heading", name="Policy for Payments").wait_for()
    row = page.get_by_role("row", name="No banned packages")
    assert "this team" in row.inner_text() and "Warn" in row.inner_text()
    assert "global policy" in page.get_by_role("row", name="No privileged mode").inner_text()
    page.screenshot(path=SHOTS / "21-policy-page.png", full_page=True)
    axe_check(page, "21-policy-page")
