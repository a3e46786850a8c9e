"""Security pages in a real browser: a vulnerable image is blocked, its report and CVE page show
why, the team requests an exception, a reviewer approves it, and the image can be published. At
1400 px and 390 px, with a screenshot, axe and a no-wider-than-the-screen check on every page."""
import datetime
import json

import pytest
from django.utils import timezone

from builds.models import Build
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, ComponentVersion
from compliance.vulndb.store import vulndb_import
from portal.models import GlobalRole
from tests.browser.conftest import fits, main_nav, page_check
from tests.conftest import wait_for_build
from tests.factories import UserFactory, with_role

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def log_in(page, url, username):  # noqa: F811
    page.goto(url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    # Logged in: members land on My images, reviewers in no team on their queue.
    page.get_by_role("button", name="Log out").wait_for()


@pytest.mark.parametrize("width", [1400, 390])
def test_it_walks_a_blocked_image_through_report_cve_exception_and_publication(
        portal_url, starter_catalog, celery_worker, member, reviewer, page, tmp_path, width):  # noqa: F811
    """At 1400 px and on a phone (390 px, the navigation behind the Menu button): every page is
    reached by its links, fits the screen, passes axe and is photographed."""
    reviewer.set_password("pw-for-tests-1")
    reviewer.save()
    with_role(UserFactory(username="otto"), GlobalRole.Kind.SECURITY_REVIEWER)
    advisory = {"id": "DEBIAN-CVE-2099-0001", "modified": "2099-01-01T00:00:00Z", "aliases": ["CVE-2099-0001"],
                "summary": "apt: made-up flaw for the browser test",
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
                "affected": [{"package": {"ecosystem": "Debian:12", "name": "apt"},
                              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99:0"}]}]}]}
    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "advisory.json").write_text(json.dumps(advisory))
    vulndb_import(source="osv", path=str(tmp_path / "osv"))
    recipe = recipe_save(user=member, team=member.memberships.get().team, name="debian-app",
                         base=BaseImage.objects.get(slug="debian-12"),
                         choices=[(ComponentVersion.objects.get(component__slug="runtime-user"), {"uid": "10001"})])
    build = wait_for_build(build_request(user=member, recipe=recipe))
    assert build.status == Build.Status.SUCCEEDED and not build.verdicts.get().passed
    page.set_viewport_size({"width": width, "height": 900 if width > 760 else 844})

    log_in(page, portal_url, "alice")
    page.get_by_role("table").get_by_role("link", name=f"#{build.pk}").click()  # My images: the latest build
    page.locator("#verdict", has_text="Vulnerability threshold").wait_for()
    page_check(page, f"10-build-blocked-{width}")
    page.get_by_role("link", name="Image report").click()
    # source package apt has two binary packages in the image: apt and libapt-pkg6.0
    page.get_by_role("heading", name="2 vulnerabilities · 2 fixable").wait_for()
    page_check(page, f"10-image-report-{width}")
    page.get_by_label("Only fixable").check()
    page.locator('#export-csv[href*="fixable=1"]').wait_for(state="attached")  # the export follows the filters
    page.wait_for_url("**fixable=1**")
    page.get_by_role("table").get_by_text("libapt-pkg6.0").wait_for()
    fits(page, "image report, filtered")

    page.get_by_role("table").get_by_role("link", name="CVE-2099-0001").first.click()
    page.get_by_role("heading", name="Impact on current images: 1 image · 1 team · 1 fixable by a rebuild").wait_for()
    page_check(page, f"11-cve-impact-{width}")

    page.get_by_role("table").get_by_role("link", name="debian-app").first.click()  # back to the image's report
    page.get_by_role("link", name="Request exception").first.click()
    page.get_by_label("Justification").fill("Made-up flaw; apt is never run in production containers.")
    page.get_by_label("Expires on").fill((timezone.now() + datetime.timedelta(days=7)).date().isoformat())
    page.get_by_label("End early when a fixed version is available").uncheck()
    page_check(page, f"12-exception-request-{width}")
    page.get_by_role("button", name="Send for review").click()
    page.get_by_text("Waiting for a security reviewer").wait_for()
    page_check(page, f"12a-exception-requested-{width}")

    page.context.clear_cookies()
    log_in(page, portal_url, "rita")
    page.get_by_role("heading", name="Review queue").wait_for()
    page_check(page, f"12b-review-queue-{width}")
    main_nav(page).get_by_role("link", name="Exceptions").click()
    page.get_by_role("heading", name="Exceptions").first.wait_for()
    page_check(page, f"12b-exceptions-pending-{width}")
    page.locator("table tbody tr").first.get_by_role("link").first.click()
    page.get_by_role("button", name="Approve exception for CVE-2099-0001").wait_for()
    page_check(page, f"12c-exception-to-review-{width}")
    page.get_by_role("button", name="Approve exception for CVE-2099-0001").click()
    # CVE-2099-0001 is Critical (CVSS 9.8): a second reviewer must approve before it applies.
    page.get_by_text("Awaiting a second approval").wait_for()
    fits(page, "exception awaiting a second approval")
    page.context.clear_cookies()
    log_in(page, portal_url, "otto")
    main_nav(page).get_by_role("link", name="Exceptions").click()  # still in the reviewers' queue
    page.locator("table tbody tr", has_text="CVE-2099-0001").get_by_role("link").first.click()
    page.get_by_role("button", name="Give second approval for CVE-2099-0001").click()
    page.get_by_text("approve recorded").wait_for()
    page_check(page, f"13-exception-approved-{width}")
    main_nav(page).get_by_role("link", name="Security").click()
    page.get_by_role("heading", name="Security overview").wait_for()
    page_check(page, f"14-security-dashboard-{width}")

    page.context.clear_cookies()
    log_in(page, portal_url, "alice")
    page.get_by_role("table").get_by_role("link", name=f"#{build.pk}").click()
    page.locator("#verdict", has_text="Passed").wait_for()
    page.get_by_role("button", name="Publish").click()
    page.locator("#verdict", has_text="Published:").wait_for()
    page_check(page, f"15-published-with-exception-{width}")
    build.refresh_from_db()
    assert build.published_reference.endswith(build.digest)
