"""In a real browser: the weekly verdict trend card and its period selector (only the card is
re-rendered, the URL follows, focus lands on the card's heading, and the data table works without
JavaScript); and a Critical-grade exception through its two approvals to "reminder sent"."""
import datetime

import pytest
from django.utils import timezone

from builds.models import Build, Recipe
from catalog.models import BaseImage
from compliance.exceptions.reminders import exception_reminders_send
from compliance.models import PolicyException, Verdict
from portal.models import GlobalRole
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in
from tests.factories import UserFactory, with_role

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def weeks_ago(n):
    return timezone.now() - datetime.timedelta(weeks=n)


@pytest.fixture
def fleet(team):
    """Six images published over the last ten weeks; two turned non-compliant on later imports."""
    base = BaseImage.objects.create(slug="busybox", name="BusyBox", repository="base/busybox", tag="1.35",
                                    digest="sha256:" + "1" * 64, layer_digests=[], os_family="busybox", approved=True)
    for i in range(6):
        recipe = Recipe.objects.create(team=team, name=f"svc-{i}", base=base)
        build = Build.objects.create(recipe=recipe, team=team, status="succeeded", dockerfile="FROM busybox",
                                     composition_sha256="0" * 64, published_at=weeks_ago(10 - i),
                                     published_reference=f"127.0.0.1:5000/published/payments/svc-{i}:1")
        history = [(weeks_ago(10 - i), True)] + ([(weeks_ago(3 - i % 2), False)] if i in (1, 4) else [])
        for created, passed in history:
            verdict = Verdict.objects.create(build=build, passed=passed, results=[])
            Verdict.objects.filter(pk=verdict.pk).update(created=created)


def test_the_trend_period_selector_re_renders_only_its_card(portal_url, fleet, reviewer, page):
    log_in(page, portal_url, "rita")
    page.goto(f"{portal_url}/security")
    chart = page.get_by_role("img", name="Stacked bars, one per ISO week")
    chart.wait_for()
    assert "4 compliant, 2 non-compliant" in chart.get_attribute("aria-label")
    page.screenshot(path=SHOTS / "20-security-trend-12-weeks.png", full_page=True)
    axe_check(page, "20-security-trend-12-weeks")

    page.evaluate("window.notReloaded = true")
    page.get_by_role("navigation", name="Trend period").get_by_role("link", name="26 weeks").click()
    page.wait_for_url("**/security?weeks=26")
    page.get_by_role("heading", name="Compliance of published images, last 26 weeks").wait_for()
    assert page.evaluate("window.notReloaded") is True, "only the card was swapped"
    page.wait_for_function("document.activeElement.id === 'verdict-trend-title'", timeout=5000)  # after htmx settles
    assert "last 26 weeks" in page.locator("#sr-status").inner_text()
    page.get_by_text("Show data").click()
    assert page.locator("#verdict-trend tbody tr").count() == 26
    page.screenshot(path=SHOTS / "21-security-trend-26-weeks-data.png", full_page=True)
    axe_check(page, "21-security-trend-26-weeks-data")
    page.go_back()
    page.wait_for_url("**/security")

    no_js = page.context.browser.new_context(java_script_enabled=False)
    no_js.add_cookies(page.context.cookies())
    static = no_js.new_page()
    static.goto(f"{portal_url}/security?weeks=52")
    assert static.locator("#verdict-trend tbody tr").count() == 52
    static.get_by_role("link", name="12 weeks").click()
    static.get_by_role("heading", name="Compliance of published images, last 12 weeks").wait_for()
    no_js.close()


def test_a_critical_exception_needs_two_reviewers_then_reminds(portal_url, team, member, reviewer, page):
    with_role(UserFactory(username="otto"), GlobalRole.Kind.SECURITY_REVIEWER)
    member.email = "alice@example.test"
    member.save()
    exception = PolicyException.objects.create(
        scope="team", team=team, target_kind="rule", target="vulnerability-threshold", reason="fix_pending",
        justification="Patched packages land in the next base image rebuild on Monday.", requested_by=member,
        expires_at=timezone.now() + datetime.timedelta(days=20), approvals_required=2)

    log_in(page, portal_url, "rita")
    page.goto(f"{portal_url}/exceptions/{exception.pk}")
    page.get_by_role("button", name="Approve exception for vulnerability-threshold").click()
    page.get_by_text("It needs a second approval from another reviewer before it applies.").wait_for()
    page.get_by_text("Awaiting a second approval: this exception does not apply").wait_for()
    assert page.get_by_role("button", name="Give second approval for vulnerability-threshold").count() == 0
    page.screenshot(path=SHOTS / "22-exception-awaiting-second-approval.png", full_page=True)
    axe_check(page, "22-exception-awaiting-second-approval")

    page.context.clear_cookies()
    log_in(page, portal_url, "otto")
    page.goto(f"{portal_url}/exceptions?status=pending")
    page.get_by_role("cell", name="Awaiting second approval").wait_for()
    page.goto(f"{portal_url}/exceptions/{exception.pk}")
    page.get_by_role("button", name="Give second approval for vulnerability-threshold").click()
    page.get_by_text("approve recorded").wait_for()
    assert PolicyException.objects.get(pk=exception.pk).status == "approved"

    exception.refresh_from_db()
    assert exception_reminders_send(now=exception.expires_at - datetime.timedelta(days=13)) == 1
    page.reload()
    page.get_by_text("Reminder sent 14 days before expiry").wait_for()
    page.get_by_text("2 of 2 needed").wait_for()
    page.screenshot(path=SHOTS / "23-exception-approved-reminder-sent.png", full_page=True)
    axe_check(page, "23-exception-approved-reminder-sent")
