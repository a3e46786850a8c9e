"""A platform admin's journey without the Django admin: a new user, a new team, the user made its
owner, who at their first log-in must replace the one-time password before anything else, then sets
the team's alerts; a reviewer in no team lands on the review queue. At 1400 px and 390 px, with
screenshots, and no page wider than the viewport."""
import pytest

from portal.models import GlobalRole, Membership, Team
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.conftest import fits as _fits  # noqa: F401 (other browser tests import it from here)
from tests.browser.test_compliance_pages import log_in
from tests.factories import UserFactory, with_role

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _choose_password(page, given, new, again):
    page.fill("#id_old_password", given)
    page.fill("#id_new_password1", new)
    page.fill("#id_new_password2", again)
    page.get_by_role("button", name="Change password").click()


@pytest.mark.parametrize("width", [1400, 390])
def test_an_admin_onboards_a_user_and_a_team_then_the_owner_sets_alerts(portal_url, reviewer, page, width):
    page.set_viewport_size({"width": width, "height": 900})
    with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    log_in(page, portal_url, "pat")
    page.get_by_role("heading", name="Platform overview").wait_for()
    _fits(page, "home")
    page.screenshot(path=SHOTS / f"people-01-admin-home-{width}.png", full_page=True)
    axe_check(page, f"people-01-admin-home-{width}")

    page.goto(f"{portal_url}/people/")
    page.fill("#field-username", "jdoe")
    page.fill("#field-email", "jdoe@example")  # the browser lets it through; the server does not
    page.get_by_role("button", name="Create user").click()
    page.get_by_role("heading", name="There is a problem").wait_for()
    axe_check(page, f"people-error-summary-{width}")
    assert page.input_value("#field-username") == "jdoe", "what was typed stays"
    page.fill("#field-email", "jdoe@example.com")
    page.get_by_role("button", name="Create user").click()
    password = page.input_value("#issued-password")
    _fits(page, "people")
    page.screenshot(path=SHOTS / f"people-02-user-created-{width}.png", full_page=True)
    axe_check(page, f"people-02-user-created-{width}")

    page.goto(f"{portal_url}/teams/")
    page.fill("#field-slug", "orders")
    page.fill("#field-name", "Orders")
    axe_check(page, f"teams-{width}")
    page.get_by_role("button", name="Create team").click()
    page.get_by_role("heading", name="Orders").wait_for()
    page.fill("#field-username", "jdoe")
    page.select_option("#field-role", "owner")
    page.get_by_role("button", name="Add member").click()
    page.locator(".message", has_text="jdoe added to Orders as owner").wait_for()
    axe_check(page, f"team-admin-{width}")
    assert Membership.objects.get(team=Team.objects.get(slug="orders"), user__username="jdoe").role == "owner"

    page.context.clear_cookies()
    page.goto(portal_url + "/login/")
    page.fill("#id_username", "jdoe")
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    choose = page.get_by_role("heading", name="Choose your own password")
    choose.wait_for()
    page.goto(f"{portal_url}/teams/orders/")  # anything else leads back, remembering where they were going
    choose.wait_for()
    assert "next=%2Fteams%2Forders%2F" in page.url
    assert page.get_by_role("navigation", name="Main").count() == 0
    _fits(page, "password page")
    page.screenshot(path=SHOTS / f"people-03-first-login-password-{width}.png", full_page=True)
    axe_check(page, f"people-03-first-login-password-{width}")
    _choose_password(page, password, "orders-owner-passphrase", "orders-owner-passphrase-typo")
    page.get_by_role("heading", name="There is a problem").wait_for()
    axe_check(page, f"people-first-login-password-error-{width}")
    _choose_password(page, password, "orders-owner-passphrase", "orders-owner-passphrase")
    page.locator(".message", has_text="Your password is changed").wait_for()
    page.get_by_role("heading", name="Orders").wait_for()
    assert page.url == f"{portal_url}/teams/orders/"
    page.fill("#field-webhook_url", "ftp://hooks.example.com/orders")
    page.get_by_role("button", name="Save alert settings").click()
    page.get_by_role("link", name="Enter a web address starting with https:// or http://, e.g. https://chat.example.com/hooks/payments.").wait_for()
    axe_check(page, f"team-owner-error-{width}")
    page.fill("#field-webhook_url", "https://hooks.example.com/orders")
    page.fill("#field-alert_email", "orders@example.com")
    page.get_by_role("button", name="Save alert settings").click()
    page.locator(".message", has_text="Alert settings saved").wait_for()
    _fits(page, "team page")
    page.screenshot(path=SHOTS / f"people-04-team-owner-{width}.png", full_page=True)
    axe_check(page, f"people-04-team-owner-{width}")

    page.context.clear_cookies()
    log_in(page, portal_url, reviewer.username)
    page.get_by_role("heading", name="Review queue").wait_for()
    _fits(page, "reviewer home")
    page.screenshot(path=SHOTS / f"people-05-reviewer-home-{width}.png", full_page=True)
    axe_check(page, f"people-05-reviewer-home-{width}")
