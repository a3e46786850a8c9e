"""Proposed base images reviewed on the Catalog pages (not the Django admin): the list says who
proposed what from which build, its verdict now, image and layers; Approve and Reject each ask for a
confirmation and go through curation.proposals (its rules, its audit); refusals are shown; only
platform admins get in. The registry read is replaced as in test_proposals."""
import pytest
from django.urls import reverse

from catalog.models import BaseImage, ProposalState
from compliance.models import Verdict
from compliance.policy.ruleset import ruleset_for
from compliance.vulndb.store import database_version
from portal.models import AuditEvent
from tests.curation.test_proposals import DIGEST, propose, published, registry_layers  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_list_shows_who_proposed_what_from_which_build_its_verdict_image_and_layers(client, admin, member, published):  # noqa: F811
    propose(member, published)
    client.force_login(admin)
    text = client.get(reverse("base-proposal-list")).content.decode()
    assert "Payments base" in text and "<code>pay-base</code>" in text
    assert f"{member.username}</dd>" in text
    assert f'<a href="{reverse("build-detail", args=[published.pk])}">build #{published.pk}</a>' in text
    assert f'>{published.recipe.name}</a>, team {published.team.name}' in text
    assert "✓ Pass" in text and f"@{DIGEST}" in text and "2 layers" in text
    assert reverse("base-proposal-approve", args=["pay-base"]) in text and reverse("base-proposal-reject", args=["pay-base"]) in text
    catalog = client.get(reverse("catalog-list")).content.decode()
    assert "1 proposed base image</strong> to review" in catalog and reverse("base-proposal-list") in catalog
    home = client.get(reverse("home")).content.decode()
    assert f'<a href="{reverse("base-proposal-list")}" id="overview-proposals"><strong>1 proposed base to review' in home


def test_an_admin_approves_after_a_confirmation_and_it_is_audited(client, admin, member, published):  # noqa: F811
    base = propose(member, published)
    client.force_login(admin)
    url = reverse("base-proposal-approve", args=[base.slug])
    asked = client.get(url)
    assert asked.status_code == 200 and "Yes, approve pay-base" in asked.content.decode()
    assert BaseImage.objects.get(pk=base.pk).pending  # asking changes nothing
    done = client.post(url, follow=True)
    assert "Base image pay-base approved" in done.content.decode()
    base.refresh_from_db()
    assert base.selectable and base.proposal_state == ProposalState.APPROVED and base.reviewed_by == admin
    assert AuditEvent.objects.filter(action="catalog.baseimage.approved", actor=admin).exists()
    assert "No proposal waits for a review" in done.content.decode() and "✓ Approved" in done.content.decode()
    again = client.post(url)
    assert again.status_code == 400 and "not pending review" in again.content.decode()
    assert "nothing is left to decide" in again.content.decode()


def test_rejecting_needs_a_reason_which_goes_into_the_audit_record(client, admin, member, published):  # noqa: F811
    base = propose(member, published)
    client.force_login(admin)
    url = reverse("base-proposal-reject", args=[base.slug])
    assert "Yes, reject pay-base" in client.get(url).content.decode()
    refused = client.post(url, {"reason": "  "})
    text = refused.content.decode()
    assert refused.status_code == 400 and "There is a problem" in text and 'href="#field-reason"' in text
    assert BaseImage.objects.get(pk=base.pk).pending
    client.post(url, {"reason": "Use the shared Java base instead."})
    base.refresh_from_db()
    assert base.proposal_state == ProposalState.REJECTED and not base.selectable
    assert AuditEvent.objects.get(action="catalog.baseimage.rejected").data["reason"] == "Use the shared Java base instead."
    client.force_login(member)
    build_page = client.get(reverse("build-detail", args=[published.pk])).content.decode()
    assert 'pay-base</strong> (Rejected: <span class="rejection-reason">Use the shared Java base instead.</span>)' in build_page


def test_approving_an_image_that_no_longer_passes_shows_why_and_changes_nothing(client, admin, member, published):  # noqa: F811
    base = propose(member, published)
    Verdict.objects.create(build=published, passed=False, results=[], database_version=database_version(),
                           ruleset_version=ruleset_for(published.team).version)  # current: not evaluated again
    client.force_login(admin)
    refused = client.post(reverse("base-proposal-approve", args=[base.slug]))
    text = refused.content.decode()
    assert refused.status_code == 400 and "There is a problem" in text
    assert "The image behind pay-base no longer passes the policy; it cannot become a base." in text
    base.refresh_from_db()
    assert base.pending and not base.approved and base.reviewed_by is None
    assert not AuditEvent.objects.filter(action="catalog.baseimage.approved").exists()


def test_members_and_reviewers_get_403_reading_or_deciding(client, member, reviewer, published):  # noqa: F811
    base = propose(member, published)
    for user in (member, reviewer):
        client.force_login(user)
        assert client.get(reverse("base-proposal-list")).status_code == 403
        for name in ("base-proposal-approve", "base-proposal-reject"):
            url = reverse(name, args=[base.slug])
            assert client.get(url).status_code == 403
            assert client.post(url, {"reason": "no"}).status_code == 403
    base.refresh_from_db()
    assert base.pending and not AuditEvent.objects.filter(action__in=["catalog.baseimage.approved",
                                                                       "catalog.baseimage.rejected"]).exists()
