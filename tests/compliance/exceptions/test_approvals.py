"""Two approvals for exceptions that may waive a Critical finding: who needs them, what the first
one does (nothing applies yet) and what the second does, and every refusal on the way."""
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from compliance.exceptions.approvals import approvals_required_for
from compliance.exceptions.services import DecisionConflict, exception_decide
from compliance.models import PolicyException
from compliance.vulndb.store import vulndb_import
from portal.models import AuditEvent
from tests.compliance.exceptions.test_services import CRITICAL, days, failing, other_reviewer, request_for  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_store import osv
from tests.factories import api_token_for

pytestmark = pytest.mark.django_db
HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5


def latest_passed(build):
    return build.verdicts.order_by("-created").first().passed


def test_it_counts_two_approvals_for_targets_that_may_waive_a_critical_finding(failing):
    assert approvals_required_for("vulnerability", "CVE-0001-0001") == 2, "Critical finding on an image"
    assert approvals_required_for("package", "zlib") == 2, "a package exception waives future Critical advisories too"
    assert approvals_required_for("rule", "vulnerability-threshold") == 2
    assert approvals_required_for("rule", "non-root-user") == 1
    assert approvals_required_for("vulnerability", "CVE-2999-9999") == 1, "unknown and on no image"


def test_it_grades_a_vulnerability_by_its_advisory_before_it_reaches_any_image(tmp_path, db):
    folder = tmp_path / "osv"
    folder.mkdir()
    for record in (osv("DEB-2031-0001", name="nothing-installed", severity=CRITICAL),
                   osv("DEB-2032-0001", name="nothing-installed-either", severity=HIGH)):
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    vulndb_import(source="osv", path=str(folder))
    assert approvals_required_for("vulnerability", "CVE-0001-0001") == 2, "alias of a Critical advisory"
    assert approvals_required_for("vulnerability", "DEB-2032-0001") == 1, "High only"


def test_the_first_approval_does_not_apply_and_the_second_from_another_reviewer_does(failing, member, reviewer,
                                                                                    other_reviewer):
    exception = request_for(failing, member)
    first = exception_decide(user=reviewer, exception=exception, approve=True, comment="looks fine")
    assert first.status == "awaiting_second" and first.decided_by is None
    assert not latest_passed(failing), "awaiting a second approval, it does not apply"
    with pytest.raises(DecisionConflict, match="already approved this exception"):
        exception_decide(user=reviewer, exception=exception, approve=True)
    second = exception_decide(user=other_reviewer, exception=exception, approve=True, comment="agreed")
    assert (second.status, second.decided_by) == ("approved", other_reviewer)
    assert latest_passed(failing)
    assert list(second.approvals.values_list("reviewer__username", flat=True)) == ["rita", "otto"]
    event = AuditEvent.objects.get(action="exception.approved")
    assert event.actor == other_reviewer and event.data["approvals"] == ["rita", "otto"]


def test_the_requester_never_gives_either_approval(failing, reviewer, other_reviewer):
    exception = request_for(failing, reviewer, scope="global", recipe=None)
    exception_decide(user=other_reviewer, exception=exception, approve=True)
    with pytest.raises(PermissionDenied, match="another reviewer"):
        exception_decide(user=reviewer, exception=exception, approve=True)
    assert PolicyException.objects.get(pk=exception.pk).status == "awaiting_second"


def test_a_second_reviewer_may_deny_after_a_first_approval(failing, member, reviewer, other_reviewer):
    exception = request_for(failing, member)
    exception_decide(user=reviewer, exception=exception, approve=True)
    denied = exception_decide(user=other_reviewer, exception=exception, approve=False, comment="patch it instead")
    assert denied.status == "denied" and not latest_passed(failing)
    with pytest.raises(DecisionConflict, match="already denied"):
        exception_decide(user=reviewer, exception=exception, approve=True)


def test_a_vulnerability_graded_critical_after_the_request_needs_a_second_approval(tmp_path, failing, member, reviewer):
    exception = request_for(failing, member, target="CVE-2033-0001", expires_at=days(20))
    assert exception.approvals_required == 1
    folder = tmp_path / "later"
    folder.mkdir()
    record = osv("DEB-2033-0001", name="nothing-installed", severity=CRITICAL)
    record["aliases"] = ["CVE-2033-0001"]
    (folder / "r.json").write_text(json.dumps(record))
    vulndb_import(source="osv", path=str(folder))
    assert exception_decide(user=reviewer, exception=exception, approve=True).status == "awaiting_second"
    assert PolicyException.objects.get(pk=exception.pk).approvals_required == 2


def test_a_rule_exception_that_waives_no_vulnerability_needs_one_approval(failing, member, reviewer):
    exception = request_for(failing, member, target_kind="rule", target="no-secrets-in-env", expires_at=days(60))
    assert exception_decide(user=reviewer, exception=exception, approve=True).status == "approved"


def test_the_page_refuses_a_duplicate_approval_with_the_current_state(client, failing, member, reviewer):
    exception = request_for(failing, member)
    client.force_login(reviewer)
    url = reverse("exception-decision", args=[exception.pk])
    client.post(url, {"action": "approve", "comment": "ok"})
    response = client.post(url, {"action": "approve", "comment": "ok again"})
    page = response.content.decode()
    assert response.status_code == 409 and "You already approved this exception" in page and "Awaiting a second approval" in page
    assert "1 of 2 needed" in page
    assert client.get(reverse("exception-list") + "?status=pending").content.decode().count(
        f'href="{reverse("exception-detail", args=[exception.pk])}"') == 1, "awaiting exceptions stay in the queue"


def test_the_detail_page_keeps_a_constant_number_of_queries(client, failing, member, reviewer, other_reviewer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    exception = request_for(failing, member)
    url = reverse("exception-detail", args=[exception.pk])
    client.force_login(member)
    counts = []
    for approver in (None, reviewer):
        if approver:  # one approval more and more history lines
            exception_decide(user=approver, exception=exception, approve=True, comment="ok")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


# -- an expiry already past ----------------------------------------------------------------------

def past_due(exception, days_ago=1):
    """The request's expiry has passed, and the periodic expiry job has not run yet."""
    PolicyException.objects.filter(pk=exception.pk).update(expires_at=days(-days_ago))
    exception.refresh_from_db()
    return exception


def test_a_reviewer_cannot_approve_an_exception_whose_expiry_has_passed(failing, member, reviewer, other_reviewer):
    exception = past_due(request_for(failing, member))
    with pytest.raises(ValidationError, match="has passed"):
        exception_decide(user=reviewer, exception=exception, approve=True)
    exception.refresh_from_db()
    assert exception.status == "pending" and not exception.approvals.exists()
    assert not latest_passed(failing)


def test_a_second_approval_after_the_expiry_passed_is_refused_too(failing, member, reviewer, other_reviewer):
    exception = request_for(failing, member)
    exception_decide(user=reviewer, exception=exception, approve=True)
    past_due(exception)
    with pytest.raises(ValidationError, match="has passed"):
        exception_decide(user=other_reviewer, exception=exception, approve=True)
    exception.refresh_from_db()
    assert exception.status == "awaiting_second" and exception.approvals.count() == 1
    assert not latest_passed(failing)


def test_a_reviewer_cannot_shorten_the_expiry_into_the_past(failing, member, reviewer):
    exception = request_for(failing, member, target_kind="rule", target="non-root-user")
    with pytest.raises(ValidationError, match="has passed"):
        exception_decide(user=reviewer, exception=exception, approve=True, expires_at=days(-2))
    exception.refresh_from_db()
    assert exception.status == "pending" and exception.expires_at > days(13)


def test_the_page_and_the_api_refuse_it_with_the_reason(client, failing, member, reviewer):
    exception = past_due(request_for(failing, member))
    client.force_login(reviewer)
    response = client.post(reverse("exception-decision", args=[exception.pk]), {"action": "approve"}, follow=True)
    assert "has passed" in response.content.decode()
    token = api_token_for(reviewer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    answer = api.post(f"/api/exceptions/{exception.pk}/approve/", {}, format="json")
    assert answer.status_code == 400 and "has passed" in answer.json()["expires_at"][0]
    exception.refresh_from_db()
    assert exception.status == "pending" and not exception.approvals.exists()
