"""In a real browser: a team member shares a .paas script; the check refuses an unsafe version
with the offending line, then saves the fixed one as version 1."""
import pytest

from builds.models import TeamScript
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_adds_a_shared_script_after_the_check_refuses_an_unsafe_one(portal_url, member, team, page):
    log_in(page, portal_url, member.username)
    page.get_by_role("link", name="Team scripts").click()
    page.get_by_role("heading", name="Shared team scripts").wait_for()
    page.get_by_label("Name").fill("app-prep")
    page.get_by_label("Kind").select_option(label=".paas/image-env.sh")
    page.get_by_label("Script").fill("#!/bin/sh\nset -eu\nmkdir -p /app/cache\nchmod 777 /app/cache\n")
    page.get_by_role("button", name="Check and save").click()
    summary = page.get_by_role("alert")
    summary.wait_for()
    assert "line 4" in summary.inner_text() and "777" in summary.inner_text()
    assert not TeamScript.objects.exists(), "a script with check errors is never saved"
    page.screenshot(path=SHOTS / "30-team-script-refused.png", full_page=True)
    axe_check(page, "30-team-script-refused")

    page.get_by_label("Script").fill("#!/bin/sh\nset -eu\nmkdir -p /app/cache\nchmod 750 /app/cache\n")
    page.get_by_role("button", name="Check and save").click()
    page.get_by_role("heading", name="Version 1").wait_for()
    script = TeamScript.objects.get()
    assert (script.team, script.name) == (team, "app-prep")
    page.screenshot(path=SHOTS / "31-team-script-saved.png", full_page=True)
    axe_check(page, "31-team-script-saved")
