"""The main path in a real browser (Playwright driving Debian's chromium): log in, tick options,
build, watch the log live, see the verdict. Screenshots go to test-artifacts/screenshots/."""
import pytest

from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_it_goes_from_login_to_a_published_image(portal_url, starter_catalog, celery_worker, member, page):
    page.goto(portal_url + "/")
    page.screenshot(path=SHOTS / "01-login.png", full_page=True)
    axe_check(page, "01-login")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.get_by_role("heading", name="My images").wait_for()
    page.screenshot(path=SHOTS / "02-home-empty.png", full_page=True)
    axe_check(page, "02-home-empty")

    page.get_by_role("link", name="Create your first image").click()
    page.get_by_role("radio", name="BusyBox").check()
    page.get_by_role("checkbox", name="Non-root runtime user").check()
    page.get_by_label("Image name").fill("web-hello")
    page.set_input_files("#artifact", files=[{"name": "hello.txt", "mimeType": "text/plain", "buffer": b"hello from the artifact\n"}])
    page.locator("#dockerfile-preview", has_text="COPY artifact/hello.txt /app/hello.txt").wait_for()
    # the live preview follows the ticks
    page.locator("#dockerfile-preview", has_text="USER 10001:10001").wait_for()
    page.locator("#preview").get_by_text("Approved base image").wait_for()
    page.screenshot(path=SHOTS / "03-recipe-builder.png", full_page=True)
    axe_check(page, "03-recipe-builder")
    # the expected checks come before the Dockerfile (a long one no longer pushes them out of view),
    # and the Dockerfile can be downloaded as shown, with the uploaded file's own checksum
    checks_y = page.locator("#preview .checks").bounding_box()["y"]
    assert checks_y < page.locator("#dockerfile-preview").bounding_box()["y"]
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "Dockerfile"
    saved = open(download.value.path()).read()
    assert "\nFROM 127.0.0.1:5000/base/busybox@sha256:" in saved and "COPY artifact/hello.txt" in saved and "0" * 64 not in saved

    page.get_by_role("button", name="Save and build").click()
    page.get_by_role("heading", name="Build #").wait_for()
    page.locator("#log-lines .line").first.wait_for(timeout=60_000)
    page.screenshot(path=SHOTS / "04-build-running.png", full_page=True)
    axe_check(page, "04-build-running")

    page.locator("#verdict", has_text="Passed").wait_for(timeout=300_000)
    page.locator("#build-header", has_text="Published").wait_for()
    assert page.locator("#build-live[hx-trigger]").count() == 0, "polling stops when the build ends"
    assert page.locator("#log-lines", has_text="Verdict: PASSED").count() == 1
    page.screenshot(path=SHOTS / "05-build-passed.png", full_page=True)
    axe_check(page, "05-build-passed")
    page.locator("#signature", has_text="Signed, verdict attested until").wait_for()
    page.locator("#signature").get_by_role("link", name="Verify").click()
    page.locator("#verification", has_text="Verified").wait_for()
    assert page.locator("#verification .badge.fail").count() == 0, page.locator("#verification").inner_text()
    page.screenshot(path=SHOTS / "05b-image-verified.png", full_page=True)
    axe_check(page, "05b-image-verified")

    page.goto(portal_url + "/")
    page.get_by_role("link", name="web-hello").wait_for()
    page.screenshot(path=SHOTS / "06-home-with-image.png", full_page=True)
    axe_check(page, "06-home-with-image")


def test_it_shows_why_a_root_image_is_blocked(portal_url, starter_catalog, celery_worker, member, page):
    page.goto(portal_url + "/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.goto(portal_url + "/images/new")
    page.get_by_role("radio", name="BusyBox").check()
    page.get_by_label("Image name").fill("rooty")
    runtime_user = page.locator("input[name=component][value=runtime-user]")
    assert runtime_user.is_checked(), "a new image starts as non-root"
    runtime_user.uncheck()
    page.locator("#preview .check-fail", has_text="Non-root user").wait_for()
    page.get_by_role("button", name="Save and build").click()
    page.locator("#confirm-blocked", has_text="The policy will block this image").wait_for()  # asked first
    axe_check(page, "07a-builder-confirm-blocked")
    page.get_by_role("button", name="Build anyway").click()

    page.locator("#verdict", has_text="Blocked").wait_for(timeout=300_000)
    verdict = page.locator("#verdict")
    assert "Runs as root" in verdict.inner_text()
    assert "Not published" in verdict.inner_text()
    assert page.get_by_role("button", name="Publish").count() == 0
    assert "blocked by policy" in page.locator("#build-steps").inner_text()
    page.screenshot(path=SHOTS / "07-build-blocked.png", full_page=True)
    axe_check(page, "07-build-blocked")
