"""Browser fixtures: Playwright driving Debian's chromium against the live test server."""
import os

import pytest

from tests.browser.axe import axe_check
from tests.conftest import ARTIFACTS

SHOTS = ARTIFACTS / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def stray_connections_closed(django_db_setup, django_db_blocker):
    """ORM calls made while Playwright's greenlet runs get connections of their own that pytest-django
    cannot see; end them before the test database is dropped."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        connection.close()


@pytest.fixture
def portal_url(stray_connections_closed, live_server):
    # Requesting the database first makes the server thread stop before the test database is dropped.
    return live_server.url


@pytest.fixture
def page(chromium_path):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; the ORM calls in this test are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        browser.close()
    # ORM calls made while Playwright's greenlet ran got their own connection (context-local).
    from django.db import connections

    connections.close_all()


def main_nav(page):
    """The main navigation, opened first where it sits behind the Menu button (narrow screens)."""
    toggle = page.locator("#menu-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false":
        toggle.click()
    return page.get_by_role("navigation", name="Main")


# From the root down, the element wider than the screen at each level: the last one holds what sticks
# out (a long word, a table, a log line not inside a box that scrolls).
WIDEST_CHAIN = """() => { const out = []; let e = document.documentElement;
  while (e && out.length < 30) {
    out.push(`${e.tagName}.${e.className}#${e.id} ${e.clientWidth}/${e.scrollWidth} px`);
    e = Array.from(e.children).find(c => (c.scrollWidth > window.innerWidth && getComputedStyle(c).overflowX == 'visible')
      || c.getBoundingClientRect().right > window.innerWidth); }
  return out; }"""


def fits(page, name):
    """No page wider than the viewport (a wide table or log scrolls inside its own box); the
    failure names the chain of elements down to the one sticking out."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{name} is {width} px wide at {viewport} px: " + " > ".join(page.evaluate(WIDEST_CHAIN))


def page_check(page, name):
    """What every page of a journey gets: it fits the viewport, a screenshot, and axe."""
    fits(page, name)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
    axe_check(page, name)
