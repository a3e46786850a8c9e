"""In a real browser, under the enforced Content-Security-Policy: the portal's pages, their htmx
requests and scripts, and the admin run without a single violation; the API tokens page shows a
new secret once."""
import pytest

from portal.models import GlobalRole
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in
from tests.factories import with_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_violations(page) -> list[str]:
    """Every CSP refusal the page meets: the DOM event and chromium's console report."""
    seen = []
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));")
    page.on("console", lambda m: seen.append(f"{page.url}: {m.text}")
            if m.type == "error" and ("Content Security Policy" in m.text or "CSP violation" in m.text) else None)
    return seen


def test_the_pages_run_under_the_policy_without_violations(portal_url, build, member, page):
    with_role(member, GlobalRole.Kind.PLATFORM_ADMIN)  # to see the admin too
    violations = watch_violations(page)
    log_in(page, portal_url, member.username)

    page.goto(f"{portal_url}/images/new")
    page.get_by_role("checkbox", name="Non-root runtime user").check()
    page.locator("#dockerfile-preview", has_text="USER 10001").wait_for()  # the htmx preview answered

    page.goto(f"{portal_url}/builds/")
    with page.expect_navigation():
        page.get_by_label("Status").select_option("queued")  # submits on change: portal.js, not an inline handler
    assert "status=queued" in page.url

    page.goto(f"{portal_url}/builds/{build.pk}")
    page.get_by_role("heading", name="Build #").wait_for()
    for path in ["/", "/security", "/exceptions", "/policy", "/signing-keys", "/team-scripts/", "/admin/",
                 "/admin/catalog/component/add/"]:
        response = page.goto(portal_url + path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")

    page.goto(f"{portal_url}/account/tokens/")
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_role("textbox", name="Secret", exact=True).input_value()
    assert secret.startswith("ipt_")
    page.screenshot(path=SHOTS / "30-api-token-created.png", full_page=True)
    page.goto(f"{portal_url}/account/tokens/")
    assert secret not in page.content()
    page.get_by_role("button", name="Rotate token laptop").click()
    assert page.get_by_role("textbox", name="Secret", exact=True).input_value() not in ("", secret)

    assert violations == [], "\n".join(violations)

    # axe last: its injected script is no part of the pages whose policy this test watches.
    for path in ["/builds/", "/policy", "/signing-keys", "/account/tokens/", "/account/password/", "/robots", "/search?q=web",
                 "/admin/", "/admin/catalog/component/add/"]:
        page.goto(portal_url + path)
        axe_check(page, "csp" + path.replace("/", "-").replace("?", "-").rstrip("-"))
