"""Catalog curation without the Django admin, in a real browser at 1400 and 390 px: a platform admin
goes from the home page's count to the proposed base, approves it after the confirmation; then adds
a new version of a component from the form filled in from the latest one, meeting the error summary
on the way. axe on each page; no page wider than the window."""
import json

import pytest

from builds.models import Build
from catalog.models import BaseImage, ComponentVersion, Lifecycle, ProposalState
from compliance.models import Verdict
from portal.models import GlobalRole
from tests.browser.axe import axe_check
from tests.browser.conftest import SHOTS
from tests.browser.test_compliance_pages import log_in
from tests.browser.test_people_and_teams import _fits
from tests.factories import UserFactory, with_role

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]
DIGEST = "sha256:" + "9" * 64


@pytest.fixture
def proposal(recipe, member, monkeypatch):
    """A published build of the team proposed as a base (rows made directly: no build runs here)."""
    monkeypatch.setattr("curation.proposals._layers", lambda repository, digest: ["sha256:" + "2" * 64, "sha256:" + "3" * 64])
    build = Build.objects.create(recipe=recipe, team=recipe.team, requested_by=member, status=Build.Status.SUCCEEDED,
                                 dockerfile="FROM x\n", composition_sha256="0" * 64, digest=DIGEST,
                                 published_reference=f"127.0.0.1:5000/published/payments/pay-api:1@{DIGEST}")
    Verdict.objects.create(build=build, passed=True, results=[])
    return BaseImage.objects.create(slug="pay-base", name="Payments base", repository="published/payments/pay-api", tag="1",
                                    digest=DIGEST, layer_digests=["sha256:" + "2" * 64], os_family="busybox", approved=False,
                                    proposal_state=ProposalState.PENDING, source_build=build, proposed_by=member)


@pytest.mark.parametrize("width", [1400, 390])
def test_an_admin_approves_a_proposed_base_and_adds_a_component_version(portal_url, page, proposal, runtime_user, width):
    with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, portal_url, "pat")

    page.locator("#overview-proposals").click()
    card = page.locator("#proposal-pay-base")
    assert "✓ Pass" in card.inner_text() and "1 layer:" in card.inner_text()
    axe_check(page, f"proposals-{width}")
    _fits(page, "proposals page")
    page.screenshot(path=SHOTS / f"curation-01-proposals-{width}.png", full_page=True)
    card.get_by_role("link", name="Approve pay-base…").click()
    page.get_by_role("heading", name="Approve the base image Payments base?").wait_for()
    axe_check(page, f"proposal-confirm-{width}")
    _fits(page, "proposal confirmation")
    page.get_by_role("button", name="Yes, approve pay-base").click()
    page.get_by_text("Base image pay-base approved").wait_for()
    assert BaseImage.objects.get(pk=proposal.pk).selectable

    page.goto(f"{portal_url}/catalog/components/runtime-user")
    page.get_by_role("link", name="New version").click()
    assert page.locator("#field-version").input_value() == "2"
    page.fill("#field-parameters", "[{oops")
    page.get_by_role("button", name="Check and create the draft").click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert "The parameters are not valid JSON" in summary.inner_text()
    axe_check(page, f"version-new-errors-{width}")
    _fits(page, "new version form with errors")
    page.screenshot(path=SHOTS / f"curation-02-version-errors-{width}.png", full_page=True)
    page.fill("#field-parameters", json.dumps(runtime_user.parameters))
    page.get_by_role("button", name="Check and create the draft").click()
    page.get_by_text("Non-root runtime user 2 is created as a draft").wait_for()
    assert ComponentVersion.objects.get(component=runtime_user.component, version="2").lifecycle == Lifecycle.DRAFT
    page.screenshot(path=SHOTS / f"curation-03-version-draft-{width}.png", full_page=True)
