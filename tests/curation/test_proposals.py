"""Custom base images: team members propose a published image, platform admins approve (audited);
pending bases are not selectable. The registry read is replaced here; the integration test reads
the real one."""
import pytest
from django.core.exceptions import PermissionDenied

from builds.dockerfile.services import DockerfileError, dockerfile_check
from catalog.models import BaseImage, ProposalState
from catalog.selectors import selectable_bases
from compliance.gate import version_tag
from compliance.models import ImageScan, Verdict
from compliance.policy.evaluation import verdict_evaluate
from compliance.policy.ruleset import ruleset_for
from compliance.sbom.models import ImageFacts
from compliance.vulndb.store import database_version
from curation.proposals import ProposalError, base_approve, base_propose
from portal.models import AuditEvent, GlobalRole
from tests.builds.test_api import api_for
from tests.compliance.vulndb.test_reevaluation import CLEAN_PRIVILEGES
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db
DIGEST = "sha256:" + "9" * 64
LAYERS = ["sha256:" + "2" * 64, "sha256:" + "3" * 64]


@pytest.fixture(autouse=True)
def registry_layers(monkeypatch):
    monkeypatch.setattr("curation.proposals._layers", lambda repository, digest: list(LAYERS))


@pytest.fixture
def platform_admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


@pytest.fixture
def published(build):  # noqa: F811
    facts = ImageFacts(repository="q", digest=DIGEST, layer_digests=["sha256:" + "2" * 64, "sha256:" + "3" * 64],
                       config={"config": {"User": "10001"}}, privileges=CLEAN_PRIVILEGES)
    scan = ImageScan.objects.create(build=build, digest=DIGEST, repository="q", status=ImageScan.Status.DONE,
                                    facts=facts.to_dict())
    verdict_evaluate(build=build)
    build.digest, build.published_reference = DIGEST, f"127.0.0.1:5000/published/payments/pay-api:{build.pk}@{DIGEST}"
    build.save()
    assert scan.pk
    return build


def propose(user, build, slug="pay-base"):  # noqa: F811
    return base_propose(user=user, build=build, slug=slug, name="Payments base")


def test_a_member_proposes_a_published_image_and_it_waits_pending(member, published):
    base = propose(member, published)
    assert base.pending and not base.approved and base.digest == DIGEST and base.layer_digests == LAYERS
    assert base.os_family == "busybox" and base.tag == version_tag(published)
    assert base not in selectable_bases()
    with pytest.raises(DockerfileError, match="pending review"):
        dockerfile_check(dockerfile=f"FROM {base.repository}:{base.tag}\n", build_args={})
    assert AuditEvent.objects.filter(action="catalog.baseimage.proposed", actor=member).exists()


def test_only_published_images_by_their_own_team_can_be_proposed(member, outsider, build, published):  # noqa: F811
    with pytest.raises(PermissionDenied):
        propose(outsider, published)
    published.published_reference = ""
    published.save()
    with pytest.raises(ProposalError, match="Only a published image"):
        propose(member, published)
    for slug in ("Bad Slug", "x" * 60, "busybox"):
        published.published_reference = "set"
        with pytest.raises(ProposalError):
            propose(member, published, slug=slug)
    assert not BaseImage.objects.filter(proposal_state=ProposalState.PENDING).exists()


def test_a_platform_admin_approves_and_the_base_becomes_usable_in_a_from(member, platform_admin, published):
    base = propose(member, published)
    with pytest.raises(PermissionDenied):
        base_approve(user=member, base=base)
    approved = base_approve(user=platform_admin, base=base)
    assert approved.selectable and approved.proposal_state == ProposalState.APPROVED and approved.reviewed_by == platform_admin
    assert approved in selectable_bases()
    resolved = dockerfile_check(dockerfile=f"FROM {base.repository}:{base.tag}\nUSER 10001\n", build_args={})
    assert resolved.dockerfile.startswith(f"FROM 127.0.0.1:5000/{base.repository}@{DIGEST}")
    event = AuditEvent.objects.get(action="catalog.baseimage.approved")
    assert event.actor == platform_admin and event.data["layers"] == 2
    with pytest.raises(ProposalError, match="not pending"):
        base_approve(user=platform_admin, base=approved)


def test_approval_is_refused_for_an_image_checked_before_the_privilege_rules(member, platform_admin, published):
    base = propose(member, published)
    facts = published.scan.facts
    facts.pop("privileges")  # scanned before the privilege facts were read, and passed under policy version 2
    ImageScan.objects.filter(pk=published.scan.pk).update(facts=facts)
    Verdict.objects.create(build=published, passed=True, results=[], policy_version="2")
    with pytest.raises(ProposalError, match="no longer passes") as refused:
        base_approve(user=platform_admin, base=base)
    assert not BaseImage.objects.get(pk=base.pk).approved
    assert "Build it again for a fresh scan" in str(refused.value)


def test_approval_is_refused_when_the_image_no_longer_passes(member, platform_admin, published):
    base = propose(member, published)
    Verdict.objects.create(build=published, passed=False, results=[], database_version=database_version(),
                           ruleset_version=ruleset_for(published.team).version)  # current: not evaluated again
    with pytest.raises(ProposalError, match="no longer passes"):
        base_approve(user=platform_admin, base=base)
    assert not BaseImage.objects.get(pk=base.pk).approved


def test_the_admin_actions_approve_and_reject_with_an_audit_record(client, member, platform_admin, published):
    first, second = propose(member, published), None
    client.force_login(platform_admin)
    response = client.post("/admin/catalog/baseimage/", {"action": "approve_proposed", "_selected_action": [first.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["pay-base: approved."]
    assert BaseImage.objects.get(pk=first.pk).selectable
    BaseImage.objects.filter(pk=first.pk).update(digest="sha256:" + "8" * 64)  # free the digest for a second proposal
    second = propose(member, published, slug="pay-base-2")
    client.post("/admin/catalog/baseimage/", {"action": "reject_proposed", "_selected_action": [second.pk]})
    second.refresh_from_db()
    assert second.proposal_state == ProposalState.REJECTED and not second.selectable
    assert AuditEvent.objects.filter(action="catalog.baseimage.rejected", actor=platform_admin).exists()


def test_the_api_proposes_and_only_platform_admins_review(member, outsider, reviewer, platform_admin, published):
    assert api_for(outsider).post("/api/catalog/base-proposals/", {"build": published.pk, "slug": "x", "name": "X"},
                                  format="json").status_code == 404
    created = api_for(member).post("/api/catalog/base-proposals/", {"build": published.pk, "slug": "pay-base", "name": "Pay"},
                                   format="json")
    assert created.status_code == 201 and created.json()["proposal_state"] == "pending"
    assert api_for(reviewer).get("/api/catalog/base-proposals/?state=pending").json()["results"][0]["slug"] == "pay-base"
    for user in (member, reviewer):
        assert api_for(user).post("/api/catalog/base-proposals/pay-base/approve/").status_code == 403
    approved = api_for(platform_admin).post("/api/catalog/base-proposals/pay-base/approve/")
    assert approved.status_code == 200 and approved.json()["approved"] is True
    again = api_for(platform_admin).post("/api/catalog/base-proposals/pay-base/reject/", {"reason": "late"}, format="json")
    assert again.status_code == 400 and "not pending" in again.json()["detail"]


def test_the_build_page_offers_the_proposal_to_the_team_only(client, member, reviewer, published):
    client.force_login(member)
    assert "Propose this image as a custom base image" in client.get(f"/builds/{published.pk}").content.decode()
    response = client.post(f"/builds/{published.pk}/propose-base", {"slug": "pay-base", "name": "Pay"}, follow=True)
    assert "Proposed as base image pay-base" in response.content.decode()
    client.force_login(reviewer)
    assert "Propose this image" not in client.get(f"/builds/{published.pk}").content.decode()
    client.post(f"/builds/{published.pk}/propose-base", {"slug": "other", "name": "Other"})
    assert not BaseImage.objects.filter(slug="other").exists()
