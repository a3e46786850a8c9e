"""At a phone's width (390 px) every main page fits the screen: no page scrolls sideways (a wide
table or log scrolls inside its own box), and the navigation stays usable."""
import pytest

from builds.models import BuildLogChunk
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS, main_nav
from tests.compliance.fleet import WIDESPREAD, fleet_grow

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def test_every_main_page_fits_a_phone_screen(portal_url, member, reviewer, team, other_team, page):
    reviewer.set_password("pw-for-tests-1")
    reviewer.save()
    builds = fleet_grow(teams=[team, other_team], images=3, findings_per_image=8, requester=member, reviewer=reviewer)
    build = builds[0]
    BuildLogChunk.objects.create(build=build, seq=5, first_line=100, step="build",
                                 text="Step 4/9 : RUN " + "apt-get install --no-install-recommends -y " * 12 + "\n")
    page.set_viewport_size(PHONE)
    page.goto(portal_url + "/login/")
    page.fill("#id_username", reviewer.username)
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.wait_for_load_state()

    pages = {"home": "/", "build": f"/builds/{build.pk}", "report": f"/builds/{build.pk}/report",
             "security": "/security", "images": "/security/images", "builds": "/builds/",
             "exceptions": "/exceptions", "new image": "/images/new",
             "cve": f"/cves/{WIDESPREAD}?team={team.slug}", "search": "/search?q=lib",
             "report, one package": f"/builds/{build.pk}/report?package=lib0"}
    too_wide = {}
    for name, path in pages.items():
        page.goto(portal_url + path)
        page.wait_for_load_state()
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"] + 1:
            too_wide[name] = width
        page.screenshot(path=SHOTS / f"mobile-{name.replace(' ', '-')}.png", full_page=True)
        axe_check(page, f"mobile-{name.replace(' ', '-')}")
    assert too_wide == {}, f"pages wider than {PHONE['width']} px: {too_wide}"

    page.goto(portal_url + "/builds/")
    main_nav(page).get_by_role("link", name="Security").click()  # behind the Menu button (test_navigation.py)
    page.wait_for_url("**/security")
