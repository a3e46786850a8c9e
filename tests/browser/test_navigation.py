"""The main navigation: on a phone (390 px) a disclosure behind a Menu button, closed at first,
opened with the keyboard (Tab to it, Enter), its links reachable by Tab, closed again by Escape with
the focus back on the button; the pending-exceptions count shows on the button and in the menu. On
a wide screen (1400 px) there is no button and the navigation is shown. Without JavaScript the
navigation is shown on a phone too (the button would need portal.js). No page is wider than the
screen, and axe passes with the menu closed and open, and on a wide screen."""
import datetime

import pytest
from django.utils import timezone

from compliance.exceptions.services import exception_request
from portal.models import GlobalRole
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in
from tests.browser.test_keyboard import FOCUSED, assert_seen, tab
from tests.browser.test_people_and_teams import _fits

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE, WIDE = {"width": 390, "height": 844}, {"width": 1400, "height": 900}
MENU_STATE = """() => ({expanded: document.getElementById('menu-toggle').getAttribute('aria-expanded'),
  nav_shown: document.getElementById('main-menu').checkVisibility(),
  focus: document.activeElement.id || document.activeElement.innerText.trim().slice(0, 40)})"""


@pytest.fixture
def admin_reviewer(member, recipe):
    """A platform admin who also reviews security (every navigation link), with one exception
    waiting for a decision (the navigation's count)."""
    exception_request(user=member, scope="recipe", recipe=recipe, target_kind="vulnerability", target="CVE-2024-0001",
                      reason="fix_pending", justification="Upstream fix lands next week; internal service.",
                      expires_at=timezone.now() + datetime.timedelta(days=10), end_when_fixed=False)
    for kind in (GlobalRole.Kind.PLATFORM_ADMIN, GlobalRole.Kind.SECURITY_REVIEWER):
        GlobalRole.objects.get_or_create(user=member, kind=kind)
    return member


def _menu(page) -> dict:
    return page.evaluate(MENU_STATE)


def test_on_a_phone_the_navigation_is_a_menu_operated_with_the_keyboard(portal_url, page, admin_reviewer):
    page.set_viewport_size(PHONE)
    log_in(page, portal_url, admin_reviewer.username)
    page.goto(portal_url + "/exceptions")
    assert _menu(page)["expanded"] == "false" and not _menu(page)["nav_shown"], "closed at first"
    button = page.locator("#menu-toggle")
    assert button.get_attribute("aria-controls") == "main-menu"
    assert " ".join(button.inner_text().split()) == "Menu 1 pending", "the count shows while the menu is closed"
    _fits(page, "exceptions, menu closed")
    axe_check(page, "navigation-phone-closed")
    page.screenshot(path=SHOTS / "navigation-01-phone-closed.png", full_page=True)

    stops = [tab(page)["name"] for _ in range(2)]
    assert stops == ["Skip to content", "Image portal"]
    focused = tab(page)
    assert focused["name"].startswith("Menu") and focused["tag"] == "BUTTON", focused
    assert_seen(focused, "the Menu button")
    page.keyboard.press("Enter")
    assert _menu(page) == {"expanded": "true", "nav_shown": True, "focus": "menu-toggle"}
    _fits(page, "exceptions, menu open")
    axe_check(page, "navigation-phone-open")

    links = page.evaluate("""() => Array.from(document.querySelectorAll('#main-menu a[href], #main-menu input'))
      .map(e => (e.innerText || e.name).trim().replace(/\\s+/g, ' '))""")
    walked = []
    for _ in links:
        focused = tab(page)
        assert_seen(focused, "the open menu")
        walked.append(" ".join(focused["name"].split()))
        if focused["name"] == "Teams":
            page.screenshot(path=SHOTS / "navigation-02-phone-open-focus.png", full_page=True)
    assert walked == links, "Tab walks every link of the menu, in order"
    assert "Exceptions 1 pending" in walked and "Catalog" in walked and "q" in walked

    page.keyboard.press("Escape")
    assert _menu(page) == {"expanded": "false", "nav_shown": False, "focus": "menu-toggle"}
    assert page.evaluate(FOCUSED)["ring"], "the focus ring shows on the button focus returned to"

    page.keyboard.press("Enter")  # and a link in it works
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog", exact=True).click()
    page.get_by_role("heading", name="Catalog", exact=True).wait_for()
    assert _menu(page)["expanded"] == "false", "a new page starts with the menu closed"
    _fits(page, "catalog")


def test_on_a_wide_screen_the_navigation_is_shown_without_a_button(portal_url, page, admin_reviewer):
    page.set_viewport_size(WIDE)
    log_in(page, portal_url, admin_reviewer.username)
    page.goto(portal_url + "/exceptions")
    assert not page.locator("#menu-toggle").is_visible()
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Catalog", exact=True).is_visible()
    assert page.locator("#nav-pending-exceptions").inner_text() == "1 pending"
    page.locator("#global-q").focus()
    page.keyboard.press("Escape")  # nothing to close: the navigation stays
    assert nav.is_visible()
    _fits(page, "exceptions, wide")
    axe_check(page, "navigation-wide")
    page.screenshot(path=SHOTS / "navigation-03-wide.png")


def test_without_javascript_a_phone_shows_the_navigation(portal_url, page, admin_reviewer):
    log_in(page, portal_url, admin_reviewer.username)
    context = page.context.browser.new_context(java_script_enabled=False, viewport=PHONE)
    context.add_cookies(page.context.cookies())
    plain = context.new_page()
    plain.goto(portal_url + "/exceptions")
    assert not plain.locator("#menu-toggle").is_visible(), "no button that could not work"
    nav = plain.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Security").is_visible() and nav.get_by_role("link", name="Catalog", exact=True).is_visible()
    _fits(plain, "exceptions without JavaScript")
    # No axe here: it needs the page's scripts (its run never settles without them); the same links
    # are checked by axe with the menu open above.
    plain.screenshot(path=SHOTS / "navigation-04-phone-no-js.png", full_page=True)
    context.close()
