"""The Dockerfile tab in a real browser: errors appear next to their line while typing, then the
pinned Dockerfile once every FROM is approved, and the recipe saves."""
import pytest

from builds.models import Recipe
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_it_shows_errors_by_line_live_and_saves_once_fixed(portal_url, starter_catalog, member, page):
    page.goto(portal_url + "/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.goto(portal_url + "/images/new")
    page.get_by_role("link", name="Your own Dockerfile").click()

    page.get_by_label("Dockerfile", exact=True).fill("FROM base/busybox:1.35 AS build\nFROM nginx:1.25\nADD https://example.com/x /x\n")
    page.locator("#dockerfile-line-2 .field-error", has_text="nginx:1.25 is not an approved base image").wait_for()
    page.locator("#dockerfile-line-3 .field-error", has_text="downloads at build time").wait_for()
    assert page.locator("#dockerfile-line-1 .field-error").count() == 0
    assert "2 problems" in page.locator("#sr-status").inner_text()
    page.screenshot(path=SHOTS / "20-dockerfile-errors.png", full_page=True)
    axe_check(page, "20-dockerfile-errors")

    page.get_by_label("Dockerfile", exact=True).fill("ARG TAG\nFROM base/busybox:${TAG}\nUSER 10001\n")
    page.locator("#dockerfile-line-2 .field-error", has_text="no build argument TAG").wait_for()
    page.get_by_label("Build arguments").fill("TAG=1.35")
    page.locator("#dockerfile-pinned", has_text="base/busybox@sha256:").wait_for()
    page.get_by_label("Image name").fill("own-df")
    page.screenshot(path=SHOTS / "21-dockerfile-pinned.png", full_page=True)
    axe_check(page, "21-dockerfile-pinned")
    page.get_by_role("button", name="Save recipe").click()
    page.get_by_role("heading", name="payments/own-df").wait_for()
    assert page.locator("#recipe-dockerfile", has_text="FROM base/busybox:${TAG}").count() == 1
    assert Recipe.objects.get(name="own-df").build_args == {"TAG": "1.35"}
