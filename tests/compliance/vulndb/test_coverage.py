"""No verdict without data: an image whose packages are in an ecosystem with no vulnerability data,
or with data older than the vulnerability-data rule allows, is "Not assessed" (never Pass), with
the reason, at every door: the verdict, the gate, re-evaluation after an import, the pages, the API."""
import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from builds.logs import BuildLog
from builds.models import Build
from builds.runner.pipeline import step_policy
from builds.services import build_request
from compliance.door import GateClosed
from compliance.gate import image_publish, verdict_make_current
from compliance.models import EcosystemData, ImageScan, ImportRun, SbomPackage
from compliance.policy.evaluation import verdict_evaluate
from compliance.policy.services import policy_rule_save
from compliance.sbom.models import ImageFacts
from compliance.vulndb.coverage import Needs, coverage_judge
from compliance.vulndb.reevaluation import reevaluate_after_import
from compliance.vulndb.store import vulndb_import
from portal.models import GlobalRole
from tests.builds.test_api import api_for
from tests.compliance.vulndb.test_reevaluation import CLEAN_PRIVILEGES
from tests.conftest import vulnerability_data_import
from tests.factories import UserFactory, with_role

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


# -- the judgement (pure) ------------------------------------------------------------------------

def test_it_names_every_ecosystem_without_data_with_old_data_or_with_no_data_source():
    needs = Needs(frozenset({"Debian:12", "PyPI", "npm"}), frozenset({"deb packages on ubuntu 22.04"}))
    imported = {"Debian:12": NOW - datetime.timedelta(days=2), "PyPI": NOW - datetime.timedelta(days=9)}
    coverage = coverage_judge(needs, imported, max_age_days=7, now=NOW)
    assert coverage.missing == ("npm",) and coverage.stale == (("PyPI", "2026-11-22"),)
    assert coverage.reason == ("no vulnerability data for npm has been imported; the vulnerability data for PyPI "
                               "(last imported 2026-11-22) is older than 7 days; no vulnerability data source covers "
                               "deb packages on ubuntu 22.04")
    assert coverage_judge(needs, imported, max_age_days=30, now=NOW).missing == ("npm",)


def test_data_for_every_ecosystem_or_no_package_at_all_is_assessed():
    imported = {"Debian:12": NOW - datetime.timedelta(days=6, hours=23)}
    assert coverage_judge(Needs(frozenset({"Debian:12"})), imported, max_age_days=7, now=NOW).reason == ""
    assert coverage_judge(Needs(), {}, max_age_days=7, now=NOW).reason == "", "a static binary image: nothing to match"


# -- verdicts ------------------------------------------------------------------------------------



def scanned(recipe, member, busybox, *, os_id="debian", os_version="12", packages=(("libssl3", "openssl", "deb"),)):
    """A pushed build of `recipe` whose scan found these packages, ready to be evaluated."""
    build = build_request(user=member, recipe=recipe)
    digest = f"sha256:{build.pk:064d}"
    facts = ImageFacts(repository=f"quarantine/payments/{recipe.name}", digest=digest, layer_digests=list(busybox.layer_digests),
                       config={"config": {"User": "10001", "Env": []}}, os={"ID": os_id, "VERSION_ID": os_version},
                       packages=[], passwd={"root": 0, "app": 10001}, privileges=CLEAN_PRIVILEGES)
    scan = ImageScan.objects.create(build=build, digest=digest, status="done", os_id=os_id, os_version=os_version,
                                    facts=facts.to_dict())
    for name, source, type_ in packages:
        SbomPackage.objects.create(scan=scan, type=type_, name=name, version="1.0-1", source_name=source, source_version="1.0-1")
    Build.objects.filter(pk=build.pk).update(status="succeeded", digest=digest,
                                             quarantine_repository=f"quarantine/payments/{recipe.name}")
    build.refresh_from_db()
    return build


def by_rule(verdict):
    return {r["rule"]: r for r in verdict.results}


@pytest.fixture
def admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


@pytest.mark.django_db
def test_without_data_the_verdict_is_not_assessed_blocked_and_says_why(recipe, member, busybox):
    verdict = verdict_evaluate(build=scanned(recipe, member, busybox))
    assert not verdict.passed and verdict.state == "not-assessed"
    assert verdict.not_assessed == "no vulnerability data for Debian:12 has been imported"
    data, threshold = by_rule(verdict)["vulnerability-data"], by_rule(verdict)["vulnerability-threshold"]
    assert data["status"] == "fail" and data["message"] == "Not assessed: no vulnerability data for Debian:12 has been imported."
    assert threshold["status"] == "not_assessed" and "counts" not in threshold["evidence"]
    assert all("found: none" not in r["message"] for r in verdict.results)


@pytest.mark.django_db
def test_with_current_data_the_same_image_passes(recipe, member, busybox, vulnerability_data):
    verdict = verdict_evaluate(build=scanned(recipe, member, busybox))
    assert verdict.passed and verdict.state == "pass" and verdict.not_assessed == ""
    assert by_rule(verdict)["vulnerability-data"]["message"] == "Current vulnerability data for Debian:12."


@pytest.mark.django_db
def test_data_older_than_the_rule_allows_is_not_assessed_and_a_team_may_allow_older(recipe, member, busybox, admin,
                                                                                   vulnerability_data):
    EcosystemData.objects.update(imported_at=timezone.now() - datetime.timedelta(days=8))
    build = scanned(recipe, member, busybox)
    verdict = verdict_evaluate(build=build)
    assert not verdict.passed and "is older than 7 days" in verdict.not_assessed
    policy_rule_save(actor=admin, team=recipe.team, kind="vulnerability-data", params={"max_age_days": 30})
    assert verdict_evaluate(build=build).state == "pass"


@pytest.mark.django_db
def test_a_team_policy_may_warn_instead_the_image_stays_not_assessed(recipe, member, busybox, admin):
    policy_rule_save(actor=admin, team=recipe.team, kind="vulnerability-data", action="warn", params={"max_age_days": 7})
    verdict = verdict_evaluate(build=scanned(recipe, member, busybox))
    assert verdict.passed and verdict.state == "not-assessed", "publishable, but never a Pass"
    assert by_rule(verdict)["vulnerability-data"]["status"] == "warn"


@pytest.mark.django_db
def test_real_findings_still_block_when_the_rest_was_not_assessed(recipe, member, busybox, tmp_path):
    folder = tmp_path / "osv"
    folder.mkdir()
    (folder / "r.json").write_text(json.dumps({
        "id": "DEB-2026-0001", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE-2026-0001"],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0-2"}]}]}]}))
    vulndb_import(source="osv", path=str(folder))
    build = scanned(recipe, member, busybox, packages=(("libssl3", "openssl", "deb"), ("requests", "requests", "pypi")))
    from compliance.vulndb.matching import scan_match
    scan_match(build.scan)
    threshold = by_rule(verdict_evaluate(build=build))["vulnerability-threshold"]
    assert threshold["status"] == "fail" and "CVE-2026-0001" in threshold["message"]
    assert "Not assessed beyond that: no vulnerability data for PyPI" in threshold["message"]


@pytest.mark.django_db
def test_packages_no_data_source_covers_are_not_assessed(recipe, member, busybox, vulnerability_data):
    verdict = verdict_evaluate(build=scanned(recipe, member, busybox, os_id="ubuntu", os_version="22.04"))
    assert verdict.not_assessed == "no vulnerability data source covers deb packages on ubuntu 22.04"


@pytest.mark.django_db
def test_an_image_without_packages_is_assessed(recipe, member, busybox):
    verdict = verdict_evaluate(build=scanned(recipe, member, busybox, packages=()))
    assert verdict.state == "pass"


# -- the doors -----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_gate_blocks_an_image_not_assessed(recipe, member, busybox):
    build = scanned(recipe, member, busybox)
    verdict_evaluate(build=build)
    with pytest.raises(GateClosed, match="Not assessed: no vulnerability data for Debian:12"):
        image_publish(build=build, actor=member)


@pytest.mark.django_db
def test_the_gate_evaluates_again_when_the_data_aged_since_the_verdict(recipe, member, busybox, vulnerability_data):
    build = scanned(recipe, member, busybox)
    assert verdict_evaluate(build=build).passed
    verdict_make_current(build)
    assert build.verdicts.count() == 1, "still current"
    EcosystemData.objects.update(imported_at=timezone.now() - datetime.timedelta(days=8))
    with pytest.raises(GateClosed, match="older than 7 days"):
        image_publish(build=build, actor=member)
    assert build.verdicts.order_by("-created").first().trigger == "gate"


@pytest.mark.django_db
def test_an_import_that_brings_the_data_assesses_images_even_without_a_finding(recipe, member, busybox, tmp_path):
    build = scanned(recipe, member, busybox)
    assert verdict_evaluate(build=build).state == "not-assessed"
    run = vulnerability_data_import(tmp_path / "first")
    counts = reevaluate_after_import(set())  # the records name no package of the image: nothing "changed" for it
    latest = build.verdicts.order_by("-created").first()
    assert latest.state == "pass" and latest.trigger == "reevaluation" and latest.database_version == run.pk
    assert counts["flipped_to_pass"] == 1
    assert reevaluate_after_import(set())["flipped_to_pass"] == 0 and build.verdicts.count() == 2, "once"


@pytest.mark.django_db
def test_an_import_that_fails_half_way_makes_nothing_current(tmp_path, monkeypatch):
    from compliance.vulndb import store
    from compliance.vulndb.importers.osv import read_osv_source
    from tests.conftest import baseline_osv_records

    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "r.json").write_text(json.dumps(baseline_osv_records(["Debian:12"])[0]))

    def half_way(source, path):
        yield from read_osv_source(path)
        raise OSError("the disk went away")

    monkeypatch.setattr(store, "feed_read", half_way)
    monkeypatch.setattr(store, "BATCH", 1)  # the record is stored before the feed breaks
    run, _ = vulndb_import(source="osv", path=str(tmp_path / "osv"))
    assert run.status == ImportRun.Status.FAILED and run.added == 1, "the first batch was stored"
    assert not EcosystemData.objects.exists()
    monkeypatch.undo()
    vulndb_import(source="osv", path=str(tmp_path / "osv"))
    assert list(EcosystemData.objects.values_list("ecosystem", flat=True)) == ["Debian:12"]


@pytest.mark.django_db
def test_the_pages_and_the_api_say_not_assessed_never_0_vulnerabilities(client, recipe, member, busybox):
    build = scanned(recipe, member, busybox)
    verdict_evaluate(build=build)
    client.force_login(member)
    reason = "no vulnerability data for Debian:12 has been imported"
    pages = {name: client.get(reverse(name, args=args)).content.decode()
             for name, args in [("build-detail", [build.pk]), ("image-report", [build.pk]), ("recipe-detail", [recipe.pk])]}
    pages["build list"] = client.get(reverse("build-list")).content.decode()
    for name, page in pages.items():
        assert "Not assessed" in page and reason in page, name
        assert "0 vulnerabilities" not in page and "found: none" not in page and "No known vulnerabilities" not in page, name
    assert "images not assessed" in client.get(reverse("security-dashboard")).content.decode()
    body = api_for(member).get(f"/api/builds/{build.pk}/").json()["verdict"]
    assert (body["state"], body["passed"], body["not_assessed"]) == ("not-assessed", False, reason)
    assert "found: none" not in json.dumps(body)


@pytest.mark.django_db
def test_the_build_log_says_not_assessed(recipe, member, busybox):
    build = scanned(recipe, member, busybox)
    log = BuildLog(build, step="policy")
    step_policy(build, log)
    log.flush()
    text = "".join(build.log_chunks.values_list("text", flat=True))
    assert "Verdict: NOT ASSESSED (BLOCKED): no vulnerability data for Debian:12 has been imported" in text
