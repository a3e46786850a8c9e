"""Exceptions: scoped, reviewed by someone other than the requester, expiring, audited."""
import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from compliance.exceptions.services import (
    DecisionConflict,
    exception_decide,
    exception_request,
    exception_revoke,
    exceptions_expire,
)
from compliance.models import PolicyException
from compliance.policy.evaluation import verdict_evaluate
from compliance.vulndb.matching import scan_match
from compliance.vulndb.store import vulndb_import
from portal.models import AuditEvent, GlobalRole
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_store import osv, write
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db
CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def days(n):
    return timezone.now() + datetime.timedelta(days=n)


@pytest.fixture
def failing(tmp_path, published):  # noqa: F811
    """The published image now has a critical, fixable openssl finding and a failing verdict."""
    vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    scan_match(published.scan)
    assert not verdict_evaluate(build=published).passed
    return published


@pytest.fixture
def other_reviewer(db):
    return with_role(UserFactory(username="otto"), GlobalRole.Kind.SECURITY_REVIEWER)


def request_for(build, user, **overrides):
    data = dict(user=user, scope="recipe", recipe=build.recipe, target_kind="vulnerability", target="CVE-0001-0001",
                reason="fix_pending", justification="Upstream fix lands next week; the service is internal only.",
                expires_at=days(14), end_when_fixed=False)
    data.update(overrides)
    return exception_request(**data)


def approve_twice(exception, first, second, **decision):
    """Both approvals a Critical exception needs (the failing image's finding is Critical)."""
    exception_decide(user=first, exception=exception, approve=True, **decision)
    return exception_decide(user=second, exception=exception, approve=True, **decision)


def test_it_waives_a_critical_vulnerability_once_two_reviewers_approved_and_records_every_step(
        failing, member, reviewer, other_reviewer):
    exception = request_for(failing, member)
    assert exception.approvals_required == 2, "the failing image's finding is Critical"
    assert not failing.verdicts.order_by("-created").first().passed, "a request alone changes nothing"
    approve_twice(exception, reviewer, other_reviewer, comment="ok for two weeks")
    verdict = failing.verdicts.order_by("-created").first()
    assert verdict.passed and verdict.trigger == "exception"
    threshold = [r for r in verdict.results if r["rule"] == "vulnerability-threshold"][0]
    assert threshold["status"] == "waived" and threshold["evidence"]["exceptions"] == [exception.pk]
    actions = list(AuditEvent.objects.filter(target_type="PolicyException").values_list("action", flat=True))
    assert sorted(actions) == ["exception.approved", "exception.first_approval", "exception.requested"]


def test_it_never_lets_the_requester_decide(failing, reviewer):
    exception = request_for(failing, reviewer, scope="global", recipe=None)
    with pytest.raises(PermissionDenied, match="another reviewer"):
        exception_decide(user=reviewer, exception=exception, approve=True)


def test_it_lets_only_reviewers_decide_and_asks_a_reason_to_deny(failing, member, reviewer):
    exception = request_for(failing, member)
    with pytest.raises(PermissionDenied):
        exception_decide(user=member, exception=exception, approve=True)
    with pytest.raises(ValidationError):
        exception_decide(user=reviewer, exception=exception, approve=False, comment=" ")
    exception_decide(user=reviewer, exception=exception, approve=False, comment="patch instead")
    assert not failing.verdicts.order_by("-created").first().passed


def test_it_answers_a_second_decision_with_a_conflict(failing, member, reviewer, other_reviewer):
    exception = request_for(failing, member)
    approve_twice(exception, reviewer, other_reviewer)
    with pytest.raises(DecisionConflict, match="already approved"):
        exception_decide(user=other_reviewer, exception=exception, approve=False, comment="too late")


@pytest.mark.parametrize("overrides, field", [
    ({"justification": "because"}, "justification"),
    ({"expires_at": None}, "expires_at"),
    ({"expires_at": days(-1)}, "expires_at"),
    ({"expires_at": days(45)}, "expires_at"),  # Critical: at most 30 days
])
def test_it_validates_requests(failing, member, overrides, field):
    with pytest.raises(ValidationError) as error:
        request_for(failing, member, **overrides)
    assert field in error.value.message_dict
    assert not PolicyException.objects.exists()


@pytest.mark.parametrize("overrides, field", [
    ({"scope": "x"}, "scope"), ({"scope": ""}, "scope"), ({"target_kind": "everything"}, "target_kind"),
])
def test_it_refuses_a_scope_or_target_kind_it_does_not_know_before_looking_at_any_image(
        failing, outsider, other_team, overrides, field):
    # Another team's request naming the CVE of the failing image (team payments, fixable): an unknown
    # scope once stood for every team's images, and the fix check named that image in its answer.
    with pytest.raises(ValidationError) as error:
        request_for(failing, outsider, recipe=None, team=other_team, end_when_fixed=True, **overrides)
    assert list(error.value.message_dict) == [field] and "Choose one of" in error.value.message_dict[field][0]
    assert failing.recipe.name not in str(error.value)
    assert not PolicyException.objects.exists()


def test_it_keeps_scopes_to_their_owners(failing, member, outsider):
    with pytest.raises(PermissionDenied):
        request_for(failing, member, scope="global", recipe=None)
    with pytest.raises(PermissionDenied):
        request_for(failing, outsider)


def test_it_stops_applying_at_once_when_revoked_or_expired(failing, member, reviewer, other_reviewer):
    exception = request_for(failing, member)
    approve_twice(exception, reviewer, other_reviewer)
    exception_revoke(user=reviewer, exception=exception, comment="the fix shipped")
    assert not failing.verdicts.order_by("-created").first().passed

    second = request_for(failing, member, expires_at=days(3))
    approve_twice(second, reviewer, other_reviewer)
    assert failing.verdicts.order_by("-created").first().passed
    PolicyException.objects.filter(pk=second.pk).update(expires_at=days(-0.001))
    assert not verdict_evaluate(build=failing).passed, "past its expiry it no longer applies, job or not"
    assert exceptions_expire() == 1
    assert PolicyException.objects.get(pk=second.pk).status == "expired"


def test_requests_nobody_decided_before_their_expiry_leave_the_review_queue(failing, member, reviewer):
    from portal.models import AuditEvent

    pending = request_for(failing, member, target="CVE-0001-0002", expires_at=days(2))
    halfway = request_for(failing, member, expires_at=days(2))  # the failing image's Critical finding
    exception_decide(user=reviewer, exception=halfway, approve=True)  # Critical: awaits a second approval
    live = request_for(failing, member, target="CVE-0001-0003", expires_at=days(5))
    assert PolicyException.objects.get(pk=halfway.pk).status == "awaiting_second"
    PolicyException.objects.filter(pk__in=[pending.pk, halfway.pk]).update(expires_at=days(-0.001))

    assert exceptions_expire() == 2
    statuses = dict(PolicyException.objects.values_list("pk", "status"))
    assert (statuses[pending.pk], statuses[halfway.pk], statuses[live.pk]) == ("expired", "expired", "pending")
    assert AuditEvent.objects.filter(action="exception.expired_undecided").count() == 2
    assert not failing.verdicts.order_by("-created").first().passed


def test_it_ends_an_exception_once_a_fix_becomes_available(tmp_path, published, member, reviewer, other_reviewer):  # noqa: F811
    from compliance.vulndb.reevaluation import reevaluate_after_import

    vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL, fixed=None)))
    scan_match(published.scan)
    exception = request_for(published, member, end_when_fixed=True)
    approve_twice(exception, reviewer, other_reviewer)
    exception.refresh_from_db()
    assert exception.status == "approved", "no fix yet: the exception applies"

    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", modified="2024-02-01T00:00:00Z", severity=CRITICAL)))
    reevaluate_after_import(changed)

    exception.refresh_from_db()
    assert exception.status == "expired" and "fixed version is available" in exception.decision_comment
    assert not published.verdicts.order_by("-created").first().passed


def test_it_waives_a_rule(failing, member, reviewer):
    from compliance.models import ImageScan

    facts = failing.scan.facts
    facts["config"]["config"]["User"] = ""
    ImageScan.objects.filter(pk=failing.scan.pk).update(facts=facts)
    failing.scan.refresh_from_db()
    exception = request_for(failing, member, target_kind="rule", target="non-root-user", expires_at=days(60))
    exception_decide(user=reviewer, exception=exception, approve=True)
    results = {r["rule"]: r for r in failing.verdicts.order_by("-created").first().results}
    assert results["non-root-user"]["status"] == "waived"
    assert f"exception {exception.pk}" in results["non-root-user"]["message"]


def test_the_gate_re_evaluates_a_stale_verdict_before_publishing(tmp_path, published):  # noqa: F811
    from builds.models import Build
    from compliance.gate import GateClosed, image_publish

    Build.objects.filter(pk=published.pk).update(published_reference="", published_at=None)
    published.refresh_from_db()
    vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    assert published.verdicts.order_by("-created").first().passed, "the stored verdict predates the import"
    with pytest.raises(GateClosed, match="Vulnerability threshold"):
        image_publish(build=published, actor=None)
    latest = published.verdicts.order_by("-created").first()
    assert latest.trigger == "gate" and not latest.passed


def test_the_gate_refuses_an_image_whose_exception_expired_before_the_periodic_expiry_ran(
        failing, member, reviewer, other_reviewer):
    from builds.models import Build
    from compliance.gate import GateClosed, image_publish

    exception = request_for(failing, member, expires_at=days(3))
    approve_twice(exception, reviewer, other_reviewer)
    Build.objects.filter(pk=failing.pk).update(published_reference="", published_at=None)
    failing.refresh_from_db()
    assert failing.verdicts.order_by("-created").first().passed, "passes while the exception applies"
    PolicyException.objects.filter(pk=exception.pk).update(expires_at=days(-0.001))  # expired, job not run yet

    with pytest.raises(GateClosed, match="Blocked by policy"):
        image_publish(build=failing, actor=member)
    assert not failing.verdicts.order_by("-created").first().passed


def test_a_ticket_is_an_http_link_of_a_length_the_row_holds_at_every_door(failing, member):
    for ticket in ("javascript:alert(1)", "ftp://tickets.example.com/1", "https://tickets.example.com/" + "x" * 200):
        with pytest.raises(ValidationError) as refused:
            request_for(failing, member, ticket=ticket)
        assert "ticket" in refused.value.message_dict
    assert request_for(failing, member, ticket="https://tickets.example.com/SEC-12").ticket == "https://tickets.example.com/SEC-12"
