"""What the build and report pages say of a verdict beside pass/blocked: stale (with why, and a way
to re-evaluate), and for a published image that stopped passing, since when, why, and whether its
team was alerted."""
import pytest
from django.urls import reverse

from compliance.models import ImportRun, PolicyException, PolicyRule
from compliance.policy.evaluation import verdict_evaluate
from compliance.reports.store import external_report_import
from compliance.selectors import verdict_standing
from compliance.vulndb.store import vulndb_import
from portal.models import AuditEvent
from tests.compliance.test_verdict_events import CRITICAL_REPORT
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_store import osv, write
from tests.factories import TeamFactory, member_of

pytestmark = pytest.mark.django_db


def page(client, build) -> str:
    response = client.get(reverse("build-detail", args=[build.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_published_image_that_stops_passing_says_since_when_why_and_that_the_team_was_alerted(
        client, member, published, webhook):  # noqa: F811
    verdict_evaluate(build=published)
    client.force_login(member)
    assert "non-compliant since" not in page(client, published)

    external_report_import(build=published, tool="trivy", data=CRITICAL_REPORT)

    failing = published.verdicts.order_by("-created", "-pk").first()
    standing = verdict_standing(published)
    assert standing["noncompliant_since"] == failing.created and standing["stale"] == []
    assert standing["alert"].data["webhook"] == "HTTP 204"
    html = page(client, published)
    assert "non-compliant since" in html and "(Vulnerability threshold)" in html
    assert "team alerted" in html and "webhook: HTTP 204" in html
    assert "✗ Built, blocked by policy" in html and "Re-evaluate now" not in html


def test_a_team_without_a_webhook_or_e_mail_reads_that_nobody_was_alerted(client, member, published, webhook):  # noqa: F811
    published.team.webhook_url, published.team.alert_email = "", ""
    published.team.save()
    verdict_evaluate(build=published)
    external_report_import(build=published, tool="trivy", data=CRITICAL_REPORT)
    client.force_login(member)
    assert "nobody alerted: the team has no webhook or alert e-mail" in page(client, published)


def test_a_verdict_made_under_other_rules_reads_stale_until_re_evaluated(client, member, published, webhook):  # noqa: F811
    verdict_evaluate(build=published)
    assert verdict_standing(published)["stale"] == []
    # A rule written behind the services' back (a bulk insert fires no signal, so no re-evaluation is queued).
    PolicyRule.objects.bulk_create([PolicyRule(team=published.team, kind="banned-packages",
                                               params={"packages": [{"name": "openssl"}]})])
    assert verdict_standing(published)["stale"] == ["the team's policy rules changed since"]
    client.force_login(member)
    html = page(client, published)
    assert "⟳ Stale:" in html and "the team&#x27;s policy rules changed since" in html and "Re-evaluate now" in html

    response = client.post(reverse("build-reevaluate", args=[published.pk]), follow=True)

    assert "Re-evaluated: blocked" in response.content.decode()
    verdict = published.verdicts.order_by("-created", "-pk").first()
    assert verdict.trigger == "requested" and not verdict.passed
    assert verdict_standing(published)["stale"] == []
    assert AuditEvent.objects.filter(action="verdict.reevaluated", actor=member, target_id=str(published.pk)).exists()
    _, received = webhook
    assert [body["build"] for body in received] == [published.pk], "the flip alerts like any other"


def test_only_the_team_or_a_reviewer_may_re_evaluate(client, published, reviewer):  # noqa: F811
    outsider = member_of(TeamFactory(slug="other"), username="olga")
    client.force_login(outsider)
    assert client.post(reverse("build-reevaluate", args=[published.pk])).status_code == 404
    client.force_login(reviewer)
    assert client.post(reverse("build-reevaluate", args=[published.pk])).status_code == 302
    assert published.verdicts.filter(trigger="requested").count() == 1


def test_a_verdict_leaning_on_an_exception_that_no_longer_applies_reads_stale(published):  # noqa: F811
    verdict = verdict_evaluate(build=published)
    exception = PolicyException.objects.create(
        scope="recipe", team=published.team, recipe=published.recipe, target_kind="rule", target="banned-packages",
        reason="accepted_risk", justification="x" * 40, expires_at=verdict.created, requested_by=published.requested_by,
        status=PolicyException.Status.REVOKED)
    verdict.results[0].update(status="waived", evidence={"exception": exception.pk})
    verdict.save()
    assert verdict_standing(published)["stale"] == [f"exception {exception.pk} it relied on no longer applies"]


def test_the_report_tells_a_verdict_made_before_any_data_from_no_data_at_all(client, member, published, tmp_path):  # noqa: F811
    ImportRun.objects.all().delete()  # the fixture's data: the verdict was made before any
    client.force_login(member)
    report = reverse("image-report", args=[published.pk])
    assert "with no vulnerability database imported yet" in client.get(report).content.decode()
    run, _ = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", name="zlib")))
    html = client.get(report).content.decode()
    assert "with no vulnerability database imported yet" not in html
    assert "before any vulnerability data was imported" in html
    assert html.count(published.digest) == 1, "the image reference names its digest once"
