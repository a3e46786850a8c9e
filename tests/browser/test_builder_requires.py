"""The builder adds what a ticked component needs (JaCoCo needs a JRE) instead of only reporting
it in the preview, and says so (visibly and to screen readers)."""
import pytest

from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_ticking_jacoco_adds_the_jre_it_needs(portal_url, starter_catalog, member, page):
    page.goto(portal_url + "/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.goto(portal_url + "/images/new")
    page.get_by_role("radio", name="Debian 12").check()
    jre = page.locator('input[name=component][value="jre"]')
    assert not jre.is_checked()

    page.locator('input[name=component][value="jacoco"]').check()

    assert jre.is_checked()
    note = page.locator("#requires-note-jacoco")
    note.wait_for()
    assert "added: JaCoCo coverage agent needs it" in note.inner_text()
    assert "added" in page.locator("#sr-status").inner_text()
    page.locator("#dockerfile-preview", has_text="jacoco").wait_for()
    assert "needs jre" not in page.locator("#preview").inner_text()
    page.screenshot(path=SHOTS / "04-builder-requires.png", full_page=True)
    axe_check(page, "04-builder-requires")
