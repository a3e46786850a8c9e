"""Exception pages and API: the same workflow and the same permission checks."""
import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.models import PolicyException
from tests.builds.test_api import api_for
from tests.compliance.exceptions.test_services import failing, other_reviewer  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
IN_TEN_DAYS = (timezone.now() + datetime.timedelta(days=10)).date().isoformat()
FORM = {"target_kind": "vulnerability", "target": "CVE-0001-0001", "scope": "recipe", "reason": "fix_pending",
        "justification": "The patched package is in testing; the port is not exposed.", "expires_at": IN_TEN_DAYS,
        "end_when_fixed": ""}


def test_it_takes_a_request_in_the_page_and_decisions_from_two_other_reviewers(client, failing, member, reviewer,
                                                                              other_reviewer):
    client.force_login(member)
    response = client.post(reverse("exception-new"), {**FORM, "build": failing.pk})
    exception = PolicyException.objects.get()
    assert response.url == reverse("exception-detail", args=[exception.pk])
    page = client.get(response.url).content.decode()
    assert "Waiting for a security reviewer" in page and "Approve exception" not in page
    client.force_login(reviewer)
    assert "CVE-0001-0001" in client.get(reverse("exception-list") + "?status=pending").content.decode()
    client.post(reverse("exception-decision", args=[exception.pk]), {"action": "approve", "comment": "ok"})
    exception.refresh_from_db()
    assert exception.status == "awaiting_second" and not failing.verdicts.order_by("-created").first().passed
    page = client.get(reverse("exception-detail", args=[exception.pk])).content.decode()
    assert "Awaiting a second approval" in page and "You approved this exception" in page
    assert "Give second approval" not in page, "the first approver cannot give the second approval"
    client.force_login(other_reviewer)
    assert "Give second approval for CVE-0001-0001" in client.get(reverse("exception-detail", args=[exception.pk])).content.decode()
    client.post(reverse("exception-decision", args=[exception.pk]), {"action": "approve", "comment": "agreed"})
    exception.refresh_from_db()
    assert exception.status == "approved"
    assert failing.verdicts.order_by("-created").first().passed
    assert "exception.approved" in client.get(reverse("exception-detail", args=[exception.pk])).content.decode()


def test_it_shows_the_problems_of_a_bad_request(client, failing, member):
    client.force_login(member)
    response = client.post(reverse("exception-new"), {**FORM, "build": failing.pk, "justification": "pls", "expires_at": ""})
    page = response.content.decode()
    assert response.status_code == 400 and "There is a problem" in page
    assert "at least 30 characters" in page and "expiry date in the future is required" in page


def test_the_page_and_the_api_refuse_a_scope_they_do_not_offer(client, failing, member):
    client.force_login(member)
    response = client.post(reverse("exception-new"), {**FORM, "build": failing.pk, "scope": "x", "end_when_fixed": "1"})
    assert response.status_code == 400 and "Choose one of" in response.content.decode()
    api = api_for(member)
    answer = api.post("/api/exceptions/", {**FORM, "build": failing.pk, "scope": "x", "end_when_fixed": True},
                      format="json")
    assert answer.status_code == 400 and "scope" in answer.json()
    assert not PolicyException.objects.exists()


def test_it_keeps_team_exceptions_from_other_teams(client, failing, member, outsider):
    client.force_login(member)
    client.post(reverse("exception-new"), {**FORM, "build": failing.pk})
    exception = PolicyException.objects.get()
    client.force_login(outsider)
    assert client.get(reverse("exception-detail", args=[exception.pk])).status_code == 404
    assert client.post(reverse("exception-new"), {**FORM, "build": failing.pk}).status_code == 404


def test_the_api_runs_the_same_workflow_and_answers_409_on_a_second_decision(failing, member, reviewer, other_reviewer):  # noqa: F811
    created = api_for(member).post("/api/exceptions/", {**FORM, "build": failing.pk, "end_when_fixed": False,
                                                         "expires_at": IN_TEN_DAYS + "T12:00:00Z"}, format="json")
    assert created.status_code == 201, created.content
    exception_id = created.json()["id"]
    assert api_for(member).post(f"/api/exceptions/{exception_id}/approve/", {}, format="json").status_code == 403
    first = api_for(reviewer).post(f"/api/exceptions/{exception_id}/approve/", {"comment": "fine"}, format="json")
    assert first.status_code == 200 and first.json()["status"] == "awaiting_second"
    assert first.json()["approvals_required"] == 2 and [a["reviewer"] for a in first.json()["approvals"]] == ["rita"]
    again = api_for(reviewer).post(f"/api/exceptions/{exception_id}/approve/", {"comment": "fine"}, format="json")
    assert again.status_code == 409 and again.json()["current"]["status"] == "awaiting_second"
    assert api_for(other_reviewer).post(f"/api/exceptions/{exception_id}/approve/", {}, format="json").json()["status"] == "approved"
    second = api_for(other_reviewer).post(f"/api/exceptions/{exception_id}/deny/", {"comment": "no"}, format="json")
    assert second.status_code == 409 and second.json()["current"]["status"] == "approved"
    bad = api_for(member).post("/api/exceptions/", {**FORM, "build": failing.pk, "justification": "x", "end_when_fixed": True,
                                                     "expires_at": IN_TEN_DAYS + "T12:00:00Z"}, format="json")
    assert bad.status_code == 400 and "justification" in bad.json()


def test_the_dashboard_lists_exceptions_expiring_soon(client, failing, member, reviewer, other_reviewer):
    from tests.compliance.exceptions.test_services import approve_twice, request_for

    exception = request_for(failing, member, expires_at=timezone.now() + datetime.timedelta(days=5))
    approve_twice(exception, reviewer, other_reviewer)
    from builds.models import Build

    Build.objects.filter(pk=failing.pk).update(status="succeeded")
    client.force_login(reviewer)
    page = client.get(reverse("security-dashboard")).content.decode()
    assert "Exceptions expiring within 14 days" in page
    assert reverse("exception-detail", args=[exception.pk]) in page


def test_the_reviewer_sees_what_an_exception_would_cover_severity_fix_and_images(client, failing, member, reviewer):  # noqa: F811
    from compliance.exceptions.services import exception_request
    from compliance.models import Finding

    finding = Finding.objects.get(scan=failing.scan)
    exception = exception_request(
        user=member, scope="recipe", recipe=failing.recipe, target_kind="vulnerability", target=finding.vulnerability_id,
        reason="fix_pending", justification="Upstream fix lands next week; the service is internal only.",
        expires_at=timezone.now() + datetime.timedelta(days=5), end_when_fixed=False)
    client.force_login(reviewer)
    page = client.get(reverse("exception-detail", args=[exception.pk])).content.decode()
    impact = page.split('id="impact-heading"', 1)[1].split("</section>", 1)[0]
    assert "1 finding on 1 current image" in impact and "sev-critical" in impact
    assert "a fix is available" in impact and finding.fixed_version in impact
    assert reverse("image-report", args=[failing.pk]) in impact
    assert reverse("vulnerability-impact", args=[finding.vulnerability_id]) in impact
