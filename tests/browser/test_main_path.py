"""The main path in a real browser (Playwright driving Debian's chromium): log in, tick options,
build, watch the log live, see the verdict. Screenshots go to test-artifacts/screenshots/.
The same member on a phone (390 px) walks the pages around a build, without a second real build."""
import pytest

from builds.models import Build, BuildLogChunk, Recipe
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS, main_nav, page_check
from tests.compliance.fleet import WIDESPREAD, fleet_grow

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


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


@pytest.fixture
def built_image(team, member, reviewer):
    """A blocked image of the member's team built earlier (made up, as test_mobile.py's fleet: no
    worker, no second real build), with its steps and a long log line."""
    build = fleet_grow(teams=[team], images=1, findings_per_image=8, requester=member, reviewer=reviewer)[0]
    build.steps = {step: {"status": "done"} for step in Build.STEPS} | {"policy": {"status": "blocked"},
                                                                         "publish": {"status": "blocked"}}
    build.published_reference = ""
    build.save()
    BuildLogChunk.objects.create(build=build, seq=5, first_line=100, step="build",
                                 text="Step 4/9 : RUN " + "apt-get install --no-install-recommends -y " * 12 + "\n")
    return build


def _scrolls_inside(page, selector, name):
    """The box is wider inside than out (it scrolls sideways) and stays within the screen."""
    box = page.evaluate(f"""() => {{ const e = document.querySelector({selector!r});
      return {{scroll: e.scrollWidth, client: e.clientWidth, right: e.getBoundingClientRect().right, overflow: getComputedStyle(e).overflowX}}; }}""")
    assert box["scroll"] > box["client"] and box["overflow"] in ("auto", "scroll"), f"{name} does not scroll in its box: {box}"
    assert box["right"] <= page.viewport_size["width"], f"{name} sticks out of the screen: {box}"


def test_a_member_on_a_phone_goes_from_login_through_the_builder_to_a_build_and_its_report(
        portal_url, starter_catalog, built_image, member, page):
    page.set_viewport_size(PHONE)
    page.goto(portal_url + "/")
    page_check(page, "app-phone-01-login")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.get_by_role("heading", name="My images").wait_for()
    page.get_by_role("table").get_by_role("link", name=built_image.recipe.name).wait_for()
    page_check(page, "app-phone-02-my-images")

    page.get_by_role("main").get_by_role("link", name="New image").click()
    page.get_by_role("radio", name="Debian 12 (bookworm)").check()
    for option in ("wget", "curl", "Java runtime (OpenJDK 17 JRE)"):
        page.get_by_role("checkbox", name=option).check()
    page.get_by_label("Image name").fill("orders-api")
    dockerfile = page.locator("#dockerfile-preview")
    dockerfile.filter(has_text="openjdk-17-jre-headless").wait_for()
    page.locator("#preview .checks").get_by_text("Approved base image").wait_for()
    page.locator("#preview .checks").get_by_text("Non-root user").wait_for()  # a new image starts as non-root
    assert page.locator("#preview .checks").bounding_box()["y"] < dockerfile.bounding_box()["y"], "the checks come first"
    _scrolls_inside(page, "#dockerfile-preview", "the Dockerfile")
    assert page.get_by_role("button", name="Save recipe").is_visible()
    page_check(page, "app-phone-03-builder")

    page.get_by_role("button", name="Save recipe").click()
    page.get_by_role("heading", name="payments/orders-api").wait_for()
    assert Recipe.objects.filter(team=built_image.team, name="orders-api").exists()
    page.get_by_text("Not built yet.").wait_for()
    page_check(page, "app-phone-04-recipe")

    main_nav(page).get_by_role("link", name="My images").click()  # behind the Menu button
    page.get_by_role("table").get_by_role("link", name=f"#{built_image.pk}").click()
    page.get_by_role("heading", name=f"Build #{built_image.pk}").wait_for()
    steps = page.get_by_role("navigation", name="Build steps")
    assert steps.is_visible() and "Policy blocked" in " ".join(steps.inner_text().split())
    page.locator("#log-lines .line", has_text="apt-get install").first.wait_for()
    _scrolls_inside(page, "pre.log", "the build log")
    page_check(page, "app-phone-05-build")

    page.get_by_role("link", name="Image report").click()
    page.get_by_role("heading", name="8 vulnerabilities").wait_for()
    _scrolls_inside(page, "table.findings", "the findings table")
    squeezed = page.evaluate("""() => Array.from(document.querySelectorAll('.report-filters label.check'))
      .filter(l => l.getBoundingClientRect().height > 1.5 * parseFloat(getComputedStyle(l).lineHeight)).map(l => l.innerText.trim())""")
    assert squeezed == [], f"each filter's box sits on one line with its name: {squeezed}"
    caption, table = page.evaluate("""() => { const c = document.querySelector('table.findings caption'), r = document.createRange();
      r.selectNodeContents(c); return [r.getBoundingClientRect().right, c.parentElement.getBoundingClientRect().right]; }""")
    assert caption <= table, "the number of findings shows without scrolling the table sideways"
    page_check(page, "app-phone-06-report")

    page.get_by_role("table").get_by_role("link", name=WIDESPREAD).click()
    page.get_by_role("heading", name=WIDESPREAD, exact=True).wait_for()
    page_check(page, "app-phone-07-cve")
