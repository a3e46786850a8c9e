"""Re-evaluation at fleet scale: one alert per team however many of its published images an import
(or a rule) turned non-compliant; a changed finding rewritten in place by one UPDATE; verdicts
carried from the database's summary of the blocking findings equal to whole evaluations."""
import json

import pytest
from django.db import connection, transaction
from django.utils import timezone

from builds.models import Build, Recipe
from compliance.models import Finding, Verdict
from compliance.policy.change import reevaluate_after_policy_change
from compliance.policy.evaluation import verdict_evaluate
from compliance.policy.services import policy_rule_save
from compliance.policy.threshold import blocking_summary
from compliance.vulndb.matching import scan_match
from compliance.vulndb.reevaluation import reevaluate_after_import
from compliance.vulndb.store import vulndb_import
from portal.models import AuditEvent
from tests.compliance.policy.test_ruleset import admin  # noqa: F401  (fixtures)
from tests.compliance.test_severity_counts import assert_counts_kept
from tests.compliance.vulndb.test_reevaluation import CRITICAL, another_build, published, stored, webhook, whole_match  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_store import osv, write
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def published_image(published, member, *, name: str, team=None) -> Build:
    """Another published image with the same SBOM and facts: a build of the recipe `name` of
    `team` (the published image's team by default)."""
    team = team or published.team
    recipe = Recipe.objects.create(team=team, name=name, base=published.recipe.base, created_by=member)
    build = another_build(published, member)
    Build.objects.filter(pk=build.pk).update(team=team, recipe=recipe, published_at=timezone.now(),
                                             published_reference=f"127.0.0.1:5000/published/{team.slug}/{name}:1@{build.digest}")
    build.refresh_from_db()
    return build


def test_an_import_alerts_each_team_once_for_all_its_images_that_stopped_passing(
        tmp_path, published, member, webhook, mailoutbox):  # noqa: F811
    hook, received = webhook
    second = published_image(published, member, name="pay-worker")
    orders = TeamFactory(slug="orders", webhook_url=hook, alert_email="orders@example.test")
    third = published_image(published, member, name="orders-api", team=orders)
    for build in (published, second, third):
        assert verdict_evaluate(build=build).passed

    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    counts = reevaluate_after_import(changed)

    assert counts["flipped_to_fail"] == 3 and counts["alerts"] == 3, "every image that stopped passing is counted"
    by_team = {body["team"]: body for body in received}
    assert len(received) == 2 and set(by_team) == {published.team.slug, "orders"}, "one webhook call per team"
    batch = by_team[published.team.slug]
    assert batch["event"] == "images.noncompliant" and batch["count"] == 2
    assert [image["build"] for image in batch["images"]] == [published.pk, second.pk]
    assert [image["image"] for image in batch["images"]] == [published.published_reference, second.published_reference]
    assert all(image["failing_rules"][0]["rule"] == "vulnerability-threshold" for image in batch["images"])
    single = by_team["orders"]
    assert single["event"] == "image.noncompliant" and single["build"] == third.pk, "a team with one image: as before"
    mails = {tuple(mail.to): mail for mail in mailoutbox}
    assert len(mailoutbox) == 2, "one e-mail per team"
    assert "2 images of payments are no longer compliant" in mails[("payments@example.test",)].subject
    assert published.published_reference in mails[("payments@example.test",)].body
    assert second.published_reference in mails[("payments@example.test",)].body
    audits = AuditEvent.objects.filter(action="alert.noncompliant")
    assert sorted(int(a.target_id) for a in audits) == sorted([published.pk, second.pk, third.pk]), "each image's page says so"
    assert {a.data["webhook"] for a in audits} == {"HTTP 204"}
    assert [a.data.get("images") for a in audits.filter(target_id__in=[str(published.pk), str(second.pk)])] == [2, 2]


def test_a_rule_change_alerts_each_team_once(published, member, admin, webhook):  # noqa: F811
    second = published_image(published, member, name="pay-worker")
    for build in (published, second):
        assert verdict_evaluate(build=build).passed
    policy_rule_save(actor=admin, team=None, kind="banned-packages", params={"packages": [{"name": "openssl"}]})

    counts = reevaluate_after_policy_change(None)

    assert counts["flipped_to_fail"] == 2 and counts["alerts"] == 2
    _, received = webhook
    assert len(received) == 1 and received[0]["event"] == "images.noncompliant"
    assert sorted(image["build"] for image in received[0]["images"]) == sorted([published.pk, second.pk])


def finding_writes() -> tuple[int, int, int]:
    """Rows of compliance_finding inserted, updated and deleted in this transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute("select n_tup_ins, n_tup_upd, n_tup_del from pg_stat_xact_user_tables "
                       "where relname = 'compliance_finding'")
        return cursor.fetchone()


def test_a_changed_finding_is_rewritten_in_place_by_one_update(tmp_path, published):  # noqa: F811
    _, changed = vulndb_import(source="osv", path=write(
        tmp_path, osv("DEB-2024-0001", urgency="low"), osv("DEB-2024-0002", fixed=None, urgency="low")))
    reevaluate_after_import(changed)
    before = dict(published.scan.findings.values_list("advisory__osv_id", "pk"))
    writes = finding_writes()

    # 0001 gets a new urgency and a new fix; 0002 is withdrawn; 0003 is new
    _, changed = vulndb_import(source="osv", path=write(
        tmp_path, osv("DEB-2024-0001", modified="2024-02-01T00:00:00Z", fixed="3.0.13-1", urgency="high"),
        osv("DEB-2024-0002", modified="2024-02-01T00:00:00Z", fixed=None, withdrawn="2024-02-01T00:00:00Z"),
        osv("DEB-2024-0003", fixed=None, urgency="low")))
    reevaluate_after_import(changed)

    inserted, updated, deleted = (after - was for after, was in zip(finding_writes(), writes))
    assert (inserted, updated, deleted) == (1, 1, 1), "0001 rewritten in place, 0002 deleted, 0003 inserted"
    rewritten = published.scan.findings.get(advisory__osv_id="DEB-2024-0001")
    assert (rewritten.severity, rewritten.fixed_version) == ("High", "3.0.13-1")
    assert rewritten.pk > before["DEB-2024-0001"], "it reads as replaced: a new id, as an inserted row would have"
    assert rewritten.pk < published.scan.findings.get(advisory__osv_id="DEB-2024-0003").pk, "ids in the order written"
    assert stored(published.scan) == whole_match(published.scan)
    assert_counts_kept("after a finding was rewritten in place")


def test_carried_verdicts_name_the_same_blocking_findings_as_whole_ones(tmp_path, published, member):  # noqa: F811
    """105 blocking findings, Critical and High mixed: the message names the ten worst, the evidence
    keeps the first 100 ids, from the database's summary as from a whole evaluation."""
    second = another_build(published, member)
    for build in (published, second):
        verdict_evaluate(build=build)
    records = [osv(f"DEB-2024-{n:04d}", fixed="3.0.13-1", **({"severity": CRITICAL} if n % 7 == 3 else {"urgency": "high"}))
               for n in range(1, 106)]
    _, changed = vulndb_import(source="osv", path=write(tmp_path, *records))
    reevaluate_after_import(changed)
    carried = second.verdicts.order_by("-created").first()
    whole = verdict_evaluate(build=second, trigger="check")
    assert carried.trigger == "reevaluation" and carried.ruleset == whole.ruleset
    assert (carried.passed, carried.results, carried.not_assessed) == (whole.passed, whole.results, whole.not_assessed)
    threshold = next(r for r in carried.results if r["rule"] == "vulnerability-threshold")
    assert threshold["message"].startswith("105 Critical/High vulnerabilities with a fix: CVE-0003-0001 (libssl3")
    assert len(threshold["evidence"]["blocking"]) == 100 and threshold["evidence"]["counts"]["Critical"] == 15


def test_a_verdict_names_blocking_findings_by_what_they_say_not_by_when_they_were_written(
        tmp_path, published, member):  # noqa: F811
    """A re-evaluation rewrites a changed finding under a new id, after the others: the verdict it
    carries names the findings as a fresh match of the same image does (worst first, then by id),
    so the same findings give the same verdict whichever way they were reached."""
    second = another_build(published, member)
    _, changed = vulndb_import(source="osv", path=write(tmp_path, *(
        osv(f"DEB-2024-000{n}", urgency="high", fixed="3.0.13-1") for n in (1, 2, 3))))
    reevaluate_after_import(changed)
    for build in (published, second):
        verdict_evaluate(build=build)
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", modified="2024-02-01T00:00:00Z", urgency="high", fixed="3.0.14-1")))
    reevaluate_after_import(changed)
    rewritten = second.scan.findings.order_by("pk").values_list("vulnerability_id", flat=True)
    assert list(rewritten)[-1] == "CVE-0001-0001", "the changed finding was written last"

    carried = second.verdicts.order_by("-created").first()
    with transaction.atomic():
        scan_match(second.scan)  # written afresh, in the matcher's order
        fresh = verdict_evaluate(build=second, trigger="check")
        transaction.set_rollback(True)
    assert carried.trigger == "reevaluation" and (carried.passed, carried.results) == (fresh.passed, fresh.results)
    threshold = next(r for r in carried.results if r["rule"] == "vulnerability-threshold")
    assert threshold["evidence"]["blocking"] == ["CVE-0001-0001", "CVE-0002-0001", "CVE-0003-0001"]
    assert "with a fix: CVE-0001-0001 (libssl3 3.0.11-1~deb12u1 → 3.0.14-1), CVE-0002-0001" in threshold["message"]


def test_blocking_findings_are_summed_up_in_one_order_whatever_order_they_come_in():
    findings = [{"vulnerability_id": vid, "severity": severity, "package": package, "installed_version": "1",
                 "fixed_version": fixed} for vid, severity, package, fixed in [
        ("CVE-2024-0002", "High", "zlib", "2"), ("CVE-2024-0010", "Critical", "curl", ""),
        ("CVE-2024-0002", "High", "libz", "2"), ("CVE-2023-9999", "High", "zlib", "3"),
        ("CVE-2024-0002", "High", "libz", "1")]]
    summaries = {json.dumps(blocking_summary(order)) for order in (findings, findings[::-1], sorted(
        findings, key=lambda f: f["package"]))}
    assert len(summaries) == 1
    summary = blocking_summary(findings)
    assert summary["first_ids"] == ["CVE-2024-0010", "CVE-2023-9999", "CVE-2024-0002", "CVE-2024-0002", "CVE-2024-0002"]
    assert [(f["package"], f["fixed_version"]) for f in summary["worst"][2:]] == [("libz", "1"), ("libz", "2"), ("zlib", "2")]


def test_a_carried_rule_that_fails_keeps_the_verdict_failing(tmp_path, published, member):  # noqa: F811
    """The image runs as root: carried over, that result still fails the new verdict, whose
    recomputed threshold passes."""
    second = another_build(published, member)
    facts = {**second.scan.facts, "config": {"config": {"User": "", "Env": []}}}
    for build in (published, second):
        type(build.scan).objects.filter(pk=build.scan.pk).update(facts=facts)
        build.refresh_from_db()
        assert not verdict_evaluate(build=build).passed
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", urgency="low")))
    reevaluate_after_import(changed)
    carried = second.verdicts.order_by("-created").first()
    assert carried.trigger == "reevaluation" and carried.results[-1]["evidence"]["counts"]["Low"] == 1
    whole = verdict_evaluate(build=second, trigger="check")
    assert (carried.passed, carried.results) == (whole.passed, whole.results) and not carried.passed
    assert Verdict.objects.filter(build=second, trigger="reevaluation").count() == 1
    assert Finding.objects.filter(scan=second.scan).count() == 1
