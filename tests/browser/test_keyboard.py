"""With the keyboard alone, at 1400 px and 390 px: Tab walks the skip link, the header (main
navigation, search, account links) and the builder form in reading order; every element that
takes focus shows its focus ring and is on screen (on a phone the navigation opens from its Menu
button); the skip link jumps to the content and Space ticks a component."""
import pytest

from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What a sighted keyboard user needs of the focused element: a ring, on screen, and after the
# previously focused one in the page (Tab follows reading order: no positive tabindex).
FOCUSED = """() => {
  const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
  const after = !window.previousFocus || !!(window.previousFocus.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING);
  window.previousFocus = e;
  return {name: (e.getAttribute('aria-label') || e.innerText || e.value || e.name || e.id || e.tagName).trim().slice(0, 40),
          ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
          on_screen: r.width > 0 && r.height > 0 && r.left >= -1 && r.right <= innerWidth + 1 && r.top >= -1 && r.bottom <= innerHeight + 1,
          in_order: after, in_header: !!e.closest('header'), in_main: !!e.closest('main'), tag: e.tagName,
          box: [r.left, r.right, r.top, r.bottom].map(Math.round).join(' ') + ' of ' + innerWidth + 'x' + innerHeight};
}"""
HEADER_TABBABLES = """() => Array.from(document.querySelectorAll('header a[href], header input:not([type=hidden]), header button'))
  .filter(e => e.checkVisibility())
  .map(e => (e.getAttribute('aria-label') || e.innerText || e.value || e.name || e.id || e.tagName).trim().slice(0, 40))"""


def tab(page) -> dict:
    page.keyboard.press("Tab")
    return page.evaluate(FOCUSED)


def assert_seen(focused: dict, where: str):
    assert focused["ring"], f"{where}: {focused['name']} ({focused['tag']}) has no visible focus ring"
    assert focused["on_screen"], f"{where}: {focused['name']} ({focused['tag']}) is focused off screen ({focused['box']})"
    assert focused["in_order"], f"{where}: {focused['name']} ({focused['tag']}) comes before the previous stop"


@pytest.mark.parametrize("width", [1400, 390])
def test_the_header_and_the_builder_work_with_the_keyboard_alone(portal_url, member, busybox, runtime_user, page, width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, portal_url, member.username)

    page.goto(portal_url + "/")
    skip = tab(page)
    assert skip["name"] == "Skip to content"
    assert_seen(skip, "home")
    walked = []
    for _ in range(30):
        focused = tab(page)
        if not focused["in_header"]:
            break
        assert_seen(focused, "header")
        walked.append(focused["name"])
        if focused["name"] == "Menu":  # a phone's navigation is behind it: Enter opens it, Tab goes on into it
            page.keyboard.press("Enter")
        if focused["name"] == "Teams":
            page.screenshot(path=SHOTS / f"keyboard-01-nav-focus-{width}.png")
    assert walked == page.evaluate(HEADER_TABBABLES), "every header link, the search and Log out, in reading order"
    assert ("Menu" in walked) == (width < 760), "the Menu button on a phone only"
    assert "Security" in walked and "Log out" in walked

    page.goto(portal_url + "/images/new")
    tab(page)
    page.keyboard.press("Enter")  # the skip link: the next Tab lands in the content, past the header
    page.evaluate("window.previousFocus = null")
    first = tab(page)
    assert first["in_main"], f"after the skip link Tab went to {first['name']}"
    stops = [first["name"]]
    focused = first
    while not focused["name"].startswith("Save and build") and len(stops) < 80:
        assert_seen(focused, "builder")
        if focused["name"] == "runtime-user":  # the component's checkbox: Space unticks it, the preview follows
            page.screenshot(path=SHOTS / f"keyboard-02-builder-focus-{width}.png")
            page.keyboard.press("Space")
            page.locator("#preview .check-fail", has_text="Non-root user").wait_for()
            page.evaluate("window.previousFocus = document.activeElement")
        focused = tab(page)
        stops.append(focused["name"])
    assert_seen(focused, "builder")
    assert "runtime-user" in stops and "name" in stops, stops
    assert focused["name"].startswith("Save and build"), f"Save and build not reached by Tab: {stops}"
    axe_check(page, f"keyboard-builder-{width}")
