"""A platform admin invites someone by e-mail into a team; the invitee opens the e-mailed link in a
browser of their own, picks a user name (a weak password refused first, the form keeping the name)
and lands on the home page in the team. At 1400 px and 390 px, each page checked (fits, axe)."""
import re

import pytest
from django.core import mail

from portal.models import GlobalRole, Membership
from tests.browser.conftest import page_check
from tests.browser.test_compliance_pages import log_in
from tests.factories import UserFactory, with_role

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1400, 390])
def test_an_invitee_accepts_and_lands_in_the_team(portal_url, team, page, width, settings):
    settings.PORTAL_BASE_URL = portal_url
    page.set_viewport_size({"width": width, "height": 900})
    with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    log_in(page, portal_url, "pat")
    page.goto(f"{portal_url}/people/")
    page.fill("#field-invite_email", "nina@example.com")
    page.select_option("#field-invite_team", "payments")
    page.select_option("#field-invite_role", "owner")
    page.get_by_role("button", name="Send invitation").click()
    page.locator(".message", has_text="Invitation sent to nina@example.com").wait_for()
    page.get_by_role("cell", name="nina@example.com", exact=True).wait_for()
    page_check(page, f"invitations-01-sent-{width}")

    link = re.search(r"http://\S+/invitations/\S+", mail.outbox[-1].body).group(0)
    invitee = page.context.browser.new_context(viewport={"width": width, "height": 900}).new_page()
    invitee.goto(link)
    invitee.get_by_role("heading", name="Welcome to the image portal").wait_for()
    page_check(invitee, f"invitations-02-accept-{width}")
    invitee.fill("#field-username", "nina")
    invitee.fill("#field-password", "short")
    invitee.fill("#field-password_again", "short")
    invitee.get_by_role("button", name="Create my account").click()
    invitee.get_by_role("heading", name="There is a problem").wait_for()
    assert invitee.input_value("#field-username") == "nina" and invitee.input_value("#field-password") == ""
    page_check(invitee, f"invitations-03-weak-password-{width}")
    invitee.fill("#field-password", "nina-chooses-a-passphrase")
    invitee.fill("#field-password_again", "nina-chooses-a-passphrase")
    invitee.get_by_role("button", name="Create my account").click()
    invitee.locator(".message", has_text="Welcome, nina").wait_for()
    invitee.get_by_role("heading", name="My images").wait_for()
    page_check(invitee, f"invitations-04-home-{width}")
    assert Membership.objects.get(user__username="nina").team == team

    invitee.context.clear_cookies()
    invitee.goto(link)  # used: the same answer as any dead link
    invitee.get_by_role("heading", name="Invitation no longer valid").wait_for()
    page_check(invitee, f"invitations-05-used-link-{width}")
    invitee.context.close()
