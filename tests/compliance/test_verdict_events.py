"""Every event that changes what a verdict reads re-evaluates it at once, through the service layer
(so every door: API, page, command, admin, shell): an imported scanner report, the approved bases,
an exception that would end as soon as it applied."""
import pytest
from django.core.exceptions import ValidationError

from catalog.models import BaseImage
from compliance import tasks
from compliance.exceptions.services import exception_decide, exception_request
from compliance.models import PolicyException
from compliance.reports.store import external_report_import
from portal.models import GlobalRole
from tests.compliance.exceptions.test_services import days
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db

# A Trivy report with one fixable Critical in a package the portal's own scan found too.
CRITICAL_REPORT = {
    "SchemaVersion": 2, "ArtifactName": "pay-api:1",
    "Results": [{"Target": "pay-api:1 (debian 12)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": [
        {"VulnerabilityID": "CVE-2024-9999", "PkgName": "libssl3", "InstalledVersion": "3.0.11-1~deb12u1",
         "FixedVersion": "3.0.11-1~deb12u9", "Severity": "CRITICAL", "Title": "openssl: remote code execution"}]}],
}


def latest(build):
    return build.verdicts.order_by("-created", "-pk").first()


def test_a_report_that_adds_a_fixable_critical_blocks_the_published_image_at_once_and_alerts(published, webhook):  # noqa: F811
    assert latest(published).passed

    result = external_report_import(build=published, tool="trivy", data=CRITICAL_REPORT)

    verdict = latest(published)
    assert not verdict.passed and verdict.trigger == "report-import"
    assert result.verdict == verdict and result.to_dict()["verdict"] == {"id": verdict.pk, "state": "blocked", "passed": False}
    threshold = next(r for r in verdict.results if r["rule"] == "vulnerability-threshold")
    assert threshold["status"] == "fail" and "CVE-2024-9999" in threshold["message"]
    _, received = webhook
    assert [body["build"] for body in received] == [published.pk], "the team of a published image is told"


def test_a_report_replaced_by_a_clean_one_lets_the_image_pass_again(published, webhook):  # noqa: F811
    external_report_import(build=published, tool="trivy", data=CRITICAL_REPORT)
    clean = {**CRITICAL_REPORT, "Results": [{**CRITICAL_REPORT["Results"][0], "Vulnerabilities": []}]}
    result = external_report_import(build=published, tool="trivy", data=clean)
    assert result.verdict.passed and latest(published).passed


def test_withdrawing_the_base_an_image_is_built_on_re_evaluates_it_once_committed(
        published, webhook, monkeypatch, django_capture_on_commit_callbacks):  # noqa: F811
    sent = []

    def run_now(team_id, trigger):  # what the worker does with the message, here and now
        sent.append((team_id, trigger))
        tasks.reevaluate_policy_change(team_id, trigger)

    monkeypatch.setattr(tasks.reevaluate_policy_change, "delay", run_now)
    base = BaseImage.objects.get(pk=published.recipe.base_id)
    with django_capture_on_commit_callbacks(execute=True):
        base.name = "BusyBox (renamed)"  # nothing the rules read: no re-evaluation
        base.save()
    assert sent == []
    with django_capture_on_commit_callbacks(execute=True):
        base.approved = False  # e.g. in the admin
        base.save()

    assert sent == [(None, "base-change")]
    verdict = latest(published)
    assert not verdict.passed and verdict.trigger == "base-change"
    assert next(r for r in verdict.results if r["rule"] == "approved-base")["status"] == "fail"
    _, received = webhook
    assert [body["build"] for body in received] == [published.pk]


def test_an_exception_that_would_end_when_fixed_is_refused_when_a_fix_exists_already(published, member):  # noqa: F811
    external_report_import(build=published, tool="trivy", data=CRITICAL_REPORT)
    request = dict(user=member, scope="recipe", recipe=published.recipe, target_kind="vulnerability",
                   target="CVE-2024-9999", reason="fix_pending", expires_at=days(5),
                   justification="The service is internal only; the upgrade is planned for next sprint.")
    with pytest.raises(ValidationError) as refused:
        exception_request(**request, end_when_fixed=True)
    assert "A fix is available already: libssl3 3.0.11-1~deb12u1 → 3.0.11-1~deb12u9" in refused.value.message_dict["end_when_fixed"][0]
    assert not PolicyException.objects.exists(), "nothing recorded"

    # One asked for without "end when fixed" is fine; one asked for before the fix was known is
    # refused at approval with the same reason (never a green "approved" above "Expired").
    exception = exception_request(**request, end_when_fixed=False)
    PolicyException.objects.filter(pk=exception.pk).update(end_when_fixed=True)
    exception.refresh_from_db()
    other = with_role(UserFactory(username="otto"), GlobalRole.Kind.SECURITY_REVIEWER)
    with pytest.raises(ValidationError, match="fix is available already"):
        exception_decide(user=other, exception=exception, approve=True)
    exception.refresh_from_db()
    assert exception.status == PolicyException.Status.PENDING and not exception.approvals.exists()
