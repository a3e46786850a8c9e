"""In a real browser, at 1400 and 390 px: the custom-Dockerfile form says what the policy will block
before the build and asks before building it; a link to a builder configuration, copied with its
button, opens the same configuration for another member of the team (and is a plain link without
JavaScript).

Builds are requested but not dispatched to a worker: what is tested is the asking, not the build."""
import pytest

from builds import services as build_services
from builds.models import Build, Recipe
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in
from tests.browser.test_people_and_teams import _fits
from tests.builds.recipes.test_share_link import timezone_option  # noqa: F401 (a fixture)
from tests.factories import member_of

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TOKEN = "ghp_R8xv2Lm9Qp4Tz7Wc1Yb6Nd3Kf5Hj0Sa2Ue8G"


@pytest.mark.parametrize("width", [1400, 390])
def test_the_dockerfile_form_says_what_the_policy_will_block_and_asks_first(portal_url, page, member, busybox,
                                                                            monkeypatch, width):
    monkeypatch.setattr(build_services, "build_dispatch", lambda build_id: None)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, portal_url, "alice")
    page.goto(portal_url + "/images/new/dockerfile")
    page.get_by_label("Dockerfile", exact=True).fill(f"FROM base/busybox:1.35\nARG GITHUB_TOKEN={TOKEN}\nRUN true\n")
    checks = page.locator("#expected-checks")
    checks.locator(".check-fail", has_text="Non-root user").wait_for()
    assert "No USER in the final stage" in checks.inner_text()
    assert "line 2 (github-token)" in checks.locator(".check-fail", has_text="No secrets in files").inner_text()
    assert "2 policy checks expected to fail" in page.locator("#sr-status").inner_text()
    page.get_by_label("Image name").fill("rooty")
    _fits(page, "dockerfile form with expected failures")
    page.screenshot(path=SHOTS / f"22-dockerfile-expected-{width}.png", full_page=True)
    axe_check(page, f"22-dockerfile-expected-{width}")

    page.get_by_role("button", name="Save and build").click()
    page.locator("#confirm-blocked", has_text="The policy will block this image").wait_for()
    assert "Non-root user" in page.locator("#confirm-blocked").inner_text()
    assert not Recipe.objects.filter(name="rooty").exists() and not Build.objects.exists(), "nothing saved or built yet"
    assert TOKEN in page.get_by_label("Dockerfile", exact=True).input_value(), "what was typed is kept"
    _fits(page, "dockerfile confirmation")
    page.screenshot(path=SHOTS / f"23-dockerfile-confirm-{width}.png", full_page=True)
    axe_check(page, f"23-dockerfile-confirm-{width}")

    page.get_by_role("button", name="Build anyway").click()
    page.get_by_role("heading", name="Build #").wait_for()
    assert Build.objects.filter(recipe__name="rooty").count() == 1


@pytest.mark.parametrize("width", [1400, 390])
def test_a_copied_link_opens_the_same_configuration_for_a_team_member(portal_url, page, member, team, busybox, runtime_user,
                                                                       timezone_option, width):  # noqa: F811
    member_of(team, "bob")
    page.set_viewport_size({"width": width, "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal_url)
    log_in(page, portal_url, "alice")
    page.goto(portal_url + "/images/new")
    page.locator("#param-runtime-user-uid").fill("12000")
    page.get_by_role("checkbox", name="Time zone").check()
    page.locator("#param-timezone-zone").fill("Europe/Paris")
    page.locator("#dockerfile-preview", has_text="USER 12000").wait_for()
    page.locator("#dockerfile-preview", has_text="TZ=Europe/Paris").wait_for()
    link = page.locator("#share-link")
    page.wait_for_function("document.getElementById('share-link').href.includes('Europe%2FParis')")
    dockerfile = page.locator("#dockerfile-preview").inner_text()

    before = link.element_handle()
    page.get_by_role("button", name="Copy link").click()
    # Leaving the zone field refreshed the preview under the click: the copy is still said, and the
    # keyboard focus is on the new button rather than lost.
    page.wait_for_function("element => !element.isConnected", arg=before)
    page.locator("#share-copied", has_text="Link copied").wait_for()
    assert page.evaluate("document.activeElement.textContent") == "Copy link"
    assert "Link copied" in page.locator("#sr-status").inner_text(), "said to screen readers too"
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == link.evaluate("a => a.href") and copied.startswith(portal_url + "/images/new?")
    _fits(page, "builder with its link")
    page.screenshot(path=SHOTS / f"24-builder-link-copied-{width}.png", full_page=True)
    axe_check(page, f"24-builder-link-copied-{width}")

    other = page.context.browser.new_context(viewport={"width": width, "height": 900})
    bob = other.new_page()
    log_in(bob, portal_url, "bob")
    bob.goto(copied)
    bob.locator("#dockerfile-preview", has_text="USER 12000").wait_for()
    assert bob.locator("#param-runtime-user-uid").input_value() == "12000"
    assert bob.get_by_role("checkbox", name="Time zone").is_checked()
    assert bob.locator("#param-timezone-zone").input_value() == "Europe/Paris"
    assert bob.locator("#dockerfile-preview").inner_text() == dockerfile and bob.locator("#link-notices").count() == 0
    _fits(bob, "builder opened from a link")
    bob.screenshot(path=SHOTS / f"25-builder-from-link-{width}.png", full_page=True)
    axe_check(bob, f"25-builder-from-link-{width}")
    other.close()

    plain = page.context.browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=False)
    without_js = plain.new_page()
    log_in(without_js, portal_url, "bob")
    without_js.goto(copied)
    assert without_js.locator("#share-link").evaluate("a => a.href") == copied, "a plain link without JavaScript"
    assert without_js.get_by_role("button", name="Copy link").count() == 0, "no button that cannot work"
    plain.close()
