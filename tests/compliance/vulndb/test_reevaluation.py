"""Re-evaluation after an import: only affected images re-matched, verdict flips, owners alerted."""
import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from builds.models import Build
from builds.services import build_request
from compliance.models import ImageScan, PolicyException, SbomPackage, Verdict
from compliance.policy.evaluation import verdict_evaluate
from compliance.sbom.models import Account, GroupEntry, ImageFacts, Privileges
from compliance.vulndb.reevaluation import reevaluate_after_import
from compliance.vulndb.store import vulndb_import
from portal.models import AuditEvent
from tests.compliance.vulndb.test_store import osv, write

pytestmark = pytest.mark.django_db
# What a scan of a compliant image reads: root locked, the runtime user with its own group, no special files.
CLEAN_PRIVILEGES = Privileges(
    accounts=[Account(name="root", uid=0, gid=0, layer_index=0), Account(name="app", uid=10001, gid=10001, layer_index=1)],
    groups=[GroupEntry(name="root", gid=0, layer_index=0), GroupEntry(name="app", gid=10001, layer_index=1)])


@pytest.fixture
def webhook(settings):
    """A real HTTP receiver on loopback that records what it is sent (alerts may go to this host)."""
    settings.ALERT_WEBHOOK_ALLOW_LOCAL = True
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def published_facts(digest: str) -> dict:
    """What a scan of a compliant image of the busybox base records."""
    return ImageFacts(repository="quarantine/payments/pay-api", digest=digest, layer_digests=["sha256:" + "2" * 64],
                      config={"config": {"User": "10001", "Env": []}}, os={"ID": "debian", "VERSION_ID": "12"},
                      packages=[], passwd={"root": 0, "app": 10001}, privileges=CLEAN_PRIVILEGES).to_dict()


def published_build(recipe, member, *, digit: str, tag: str) -> Build:
    """A published build of the recipe whose image holds openssl 3.0.11-1~deb12u1; its verdict passed."""
    build = build_request(user=member, recipe=recipe)
    digest = "sha256:" + digit * 64
    scan = ImageScan.objects.create(build=build, digest=digest, status="done", os_id="debian", os_version="12",
                                    facts=published_facts(digest))
    SbomPackage.objects.create(scan=scan, name="libssl3", version="3.0.11-1~deb12u1", source_name="openssl",
                               source_version="3.0.11-1~deb12u1")
    Build.objects.filter(pk=build.pk).update(status="succeeded", digest=digest, published_at=timezone.now(),
                                             published_reference=f"127.0.0.1:5000/published/payments/pay-api:{tag}@{digest}")
    Verdict.objects.create(build=build, passed=True, results=[])
    build.refresh_from_db()
    return build


@pytest.fixture
def published(recipe, member, busybox, webhook, vulnerability_data):  # noqa: F811
    team = recipe.team
    team.webhook_url, team.alert_email = webhook[0], "payments@example.test"
    team.save()
    return published_build(recipe, member, digit="7", tag="1")


def test_it_flips_a_published_image_and_alerts_its_team(tmp_path, published, webhook, mailoutbox):
    run, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")))
    counts = reevaluate_after_import(changed)

    assert counts == {"scans": 1, "flipped_to_fail": 1, "flipped_to_pass": 0, "alerts": 1}
    verdict = published.verdicts.order_by("-created").first()
    assert not verdict.passed and verdict.trigger == "reevaluation" and verdict.database_version == run.pk
    failing = [r for r in verdict.results if r["status"] == "fail"]
    assert [r["rule"] for r in failing] == ["vulnerability-threshold"]
    assert "CVE-0001-0001" in failing[0]["message"]
    body = webhook[1][0]
    assert body["event"] == "image.noncompliant" and body["image"] == published.published_reference
    assert body["failing_rules"][0]["rule"] == "vulnerability-threshold"
    assert mailoutbox[0].to == ["payments@example.test"] and "no longer compliant" in mailoutbox[0].subject
    assert AuditEvent.objects.filter(action="alert.noncompliant", target_id=str(published.pk)).exists()
    published.refresh_from_db()
    assert published.published_reference, "never block pulls of images already published"


def test_it_leaves_images_the_changed_records_do_not_name(tmp_path, published, webhook):
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0009", name="curl")))
    assert reevaluate_after_import(changed)["scans"] == 0
    assert published.verdicts.count() == 1
    assert webhook[1] == []


def test_it_flips_back_when_a_record_stops_affecting_the_installed_version(tmp_path, published):
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")))
    reevaluate_after_import(changed)
    # the advisory is corrected: the installed version was never affected
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", modified="2024-05-01T00:00:00Z", fixed="3.0.0-1", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")))
    counts = reevaluate_after_import(changed)
    assert counts["flipped_to_pass"] == 1
    assert published.verdicts.order_by("-created").first().passed


CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def findings_of(scan):
    return {f.package.source_name: (f.pk, f.fixed_version) for f in scan.findings.select_related("package")}


def test_it_rewrites_only_the_findings_that_changed(tmp_path, published):
    SbomPackage.objects.create(scan=published.scan, name="zlib1g", version="1:1.2.13.dfsg-1", source_name="zlib",
                               source_version="1:1.2.13.dfsg-1")
    _, changed = vulndb_import(source="osv", path=write(
        tmp_path, osv("DEB-2024-0001"), osv("DEB-2024-0002", name="zlib", fixed=None)))
    reevaluate_after_import(changed)
    before = findings_of(published.scan)
    verdicts = published.verdicts.count()

    # openssl's record gets a new fix: its finding is replaced; zlib is not named, its row stays
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", modified="2024-02-01T00:00:00Z", fixed="3.0.13-1~deb12u1")))
    assert reevaluate_after_import(changed)["scans"] == 1
    after = findings_of(published.scan)
    assert after["zlib"] == before["zlib"]
    assert after["openssl"][1] == "3.0.13-1~deb12u1" and after["openssl"][0] != before["openssl"][0]
    assert published.verdicts.count() == verdicts + 1

    # a new summary: openssl is re-matched, but its finding stays the same row and no verdict is made
    record = osv("DEB-2024-0001", modified="2024-03-01T00:00:00Z", fixed="3.0.13-1~deb12u1")
    _, changed = vulndb_import(source="osv", path=write(tmp_path, {**record, "summary": "openssl: clearer summary"}))
    assert reevaluate_after_import(changed)["scans"] == 1
    assert findings_of(published.scan) == after
    assert published.verdicts.count() == verdicts + 1

    # a new modification date alone changes nothing: no pair to re-match
    run, changed = vulndb_import(source="osv", path=write(tmp_path, {
        **record, "summary": "openssl: clearer summary", "modified": "2024-04-01T00:00:00Z"}))
    assert (run.updated, changed) == (0, set())


def test_it_rematches_scans_without_a_build_and_gives_them_no_verdict(tmp_path, published):
    scan = ImageScan.objects.create(digest="sha256:" + "5" * 64, status="done", os_id="debian", os_version="12")
    SbomPackage.objects.create(scan=scan, name="libssl3", version="3.0.11-1~deb12u1", source_name="openssl",
                               source_version="3.0.11-1~deb12u1")
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001")))
    assert reevaluate_after_import(changed)["scans"] == 2
    assert [f.vulnerability_id for f in scan.findings.all()] == ["CVE-0001-0001"]


def another_build(published, member):
    """A second build of the same recipe, with the same facts and SBOM."""
    build = build_request(user=member, recipe=published.recipe)
    scan = ImageScan.objects.create(build=build, digest="sha256:" + "6" * 64, status="done", os_id="debian",
                                    os_version="12", facts=published.scan.facts)
    SbomPackage.objects.create(scan=scan, name="libssl3", version="3.0.11-1~deb12u1", source_name="openssl",
                               source_version="3.0.11-1~deb12u1")
    Build.objects.filter(pk=build.pk).update(status="succeeded", digest=scan.digest)
    build.refresh_from_db()
    return build


def test_it_carries_the_other_rules_over_and_agrees_with_a_whole_evaluation(tmp_path, published, member, caplog):
    second = another_build(published, member)
    for build in (published, second):
        verdict_evaluate(build=build)  # whole verdicts: the ones builds get
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    with caplog.at_level("INFO", logger="compliance.vulndb.reevaluation"):
        reevaluate_after_import(changed)
    assert "2 verdicts (1 evaluated whole)" in caplog.text
    for build in (published, second):  # the first is evaluated whole (to learn today's rules), the second carried
        after = build.verdicts.order_by("-created").first()
        whole = verdict_evaluate(build=build, trigger="reevaluation")
        assert (after.passed, after.results, after.database_version) == \
            (whole.passed, whole.results, whole.database_version)
        assert not after.passed and len(after.results) > 1


def test_a_carried_verdict_says_not_assessed_when_another_ecosystems_data_aged(tmp_path, published, member, caplog):
    """The carried path recomputes the vulnerability-data rule too: Debian's import changes a
    finding, while the images' PyPI data grew too old since their verdicts; carried or whole, the
    verdicts agree: not assessed, and blocked on the Critical finding as well."""
    from compliance.models import EcosystemData

    second = another_build(published, member)
    for build in (published, second):
        SbomPackage.objects.create(scan=build.scan, type="pypi", name="requests", version="2.31.0",
                                   source_name="requests", source_version="2.31.0")
        assert verdict_evaluate(build=build).state == "pass"
    EcosystemData.objects.filter(ecosystem="PyPI").update(imported_at=timezone.now() - datetime.timedelta(days=10))
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    with caplog.at_level("INFO", logger="compliance.vulndb.reevaluation"):
        reevaluate_after_import(changed)
    assert "2 verdicts (1 evaluated whole)" in caplog.text, "the second was carried"
    for build in (published, second):
        after = build.verdicts.order_by("-created").first()
        whole = verdict_evaluate(build=build, trigger="reevaluation")
        assert (after.passed, after.results, after.not_assessed) == (whole.passed, whole.results, whole.not_assessed)
        assert "PyPI (last imported" in after.not_assessed and not after.passed


def test_it_evaluates_whole_a_verdict_with_other_rules_than_today(tmp_path, published, member):
    second = another_build(published, member)
    verdict_evaluate(build=published)
    Verdict.objects.create(build=second, passed=True, results=[  # as before a rule was added
        {"rule": "vulnerability-threshold", "title": "", "status": "pass", "message": "", "evidence": {}}])
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    reevaluate_after_import(changed)
    rules = [r["rule"] for r in published.verdicts.order_by("-created").first().results]
    assert [r["rule"] for r in second.verdicts.order_by("-created").first().results] == rules


def test_it_evaluates_the_whole_verdict_when_an_exception_may_waive(tmp_path, published, member):
    verdict_evaluate(build=published)
    PolicyException.objects.create(
        scope="team", team=published.team, target_kind="vulnerability", target="CVE-0001-0001", reason="fix_pending",
        justification="Upstream fix lands next week; the service is internal only.", end_when_fixed=False,
        expires_at=timezone.now() + datetime.timedelta(days=7), status="approved", requested_by=member)
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    assert reevaluate_after_import(changed)["flipped_to_fail"] == 0
    verdict = published.verdicts.order_by("-created").first()
    assert verdict.passed
    assert [r["status"] for r in verdict.results if r["rule"] == "vulnerability-threshold"] == ["waived"]


@pytest.mark.parametrize("ecosystem,versions", [
    ("Debian:12", ["3.0.11-1~deb12u1", "3.0.11-1", "1:1.0-1", "1.0~rc1-1", "2.36-9+deb12u4", "not a version", ""]),
    ("PyPI", ["2.10", "2.10.1", "3.0rc1", "1!1.0", "not a version"]),
])
def test_its_fast_range_check_answers_as_the_osv_evaluator(ecosystem, versions):
    from compliance.vulndb.matching import entry_hit
    from compliance.vulndb.osv_range import fixed_versions, osv_affects_safe
    from compliance.vulndb.versions import comparator_for

    def reference(ranges, listed, version):
        if not osv_affects_safe({"ranges": ranges, "versions": listed}, version, ecosystem)[0]:
            return False, ""
        key, above = comparator_for(ecosystem), []
        for fixed in fixed_versions({"ranges": ranges}):
            try:
                if key(fixed) > key(version):
                    above.append(fixed)
            except ValueError:
                continue
        return True, min(above, key=key) if above else ""

    shapes = [[{"introduced": "0"}]] + [[{"introduced": "0"}, {"fixed": v}] for v in versions] \
        + [[{"introduced": versions[0]}, {"fixed": versions[1]}], [{"introduced": "0"}, {"last_affected": versions[0]}]]
    for events in shapes:
        for listed in ([], [versions[0]]):
            for version in versions:
                ranges = [{"type": "ECOSYSTEM", "events": events}]
                assert entry_hit(ranges, listed, ecosystem, version) == reference(ranges, listed, version), \
                    (events, listed, version)


def test_its_import_keeps_the_latest_of_an_id_listed_twice(tmp_path):
    from compliance.models import AffectedPackage

    folder = tmp_path / "twice"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(osv("DEB-2024-0001")))
    (folder / "b.json").write_text(json.dumps(osv("DEB-2024-0001", modified="2024-02-01T00:00:00Z", fixed="3.0.13-1")))
    (folder / "c.json").write_text(json.dumps(osv("DEB-2024-0001", modified="2023-12-01T00:00:00Z", fixed="3.0.1-1")))
    run, changed = vulndb_import(source="osv", path=str(folder))
    assert (run.added, run.updated, run.unchanged, changed) == (1, 1, 1, {("Debian:12", "openssl")})
    assert AffectedPackage.objects.get().ranges[0]["events"][1] == {"fixed": "3.0.13-1"}


def test_its_import_names_the_advisories_it_added_updated_or_withdrew(tmp_path):
    from compliance.models import Advisory

    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001"), osv("DEB-2024-0002")))
    ids = dict(Advisory.objects.values_list("osv_id", "pk"))
    assert changed.advisories == {ids["DEB-2024-0001"], ids["DEB-2024-0002"]}
    _, changed = vulndb_import(source="osv", path=write(  # one updated, one withdrawn, one added, one as it was
        tmp_path, osv("DEB-2024-0001", modified="2024-02-01T00:00:00Z", fixed="3.0.13-1"),
        osv("DEB-2024-0002", modified="2024-02-01T00:00:00Z", withdrawn="2024-02-01T00:00:00Z"),
        osv("DEB-2024-0003", name="zlib")))
    ids = dict(Advisory.objects.values_list("osv_id", "pk"))
    assert changed.advisories == {ids["DEB-2024-0001"], ids["DEB-2024-0002"], ids["DEB-2024-0003"]}
    assert changed == {("Debian:12", "openssl"), ("Debian:12", "zlib")}


def whole_match(scan):
    """The findings a whole scan_match gives the scan (rolled back), as comparable tuples."""
    from django.db import transaction

    from compliance.vulndb.matching import scan_match

    with transaction.atomic():
        whole = sorted((f.package_id, f.advisory_id, f.vulnerability_id, f.fixed_version, f.severity)
                       for f in scan_match(scan))
        transaction.set_rollback(True)
    return whole


def stored(scan):
    return sorted(scan.findings.values_list("package_id", "advisory_id", "vulnerability_id", "fixed_version",
                                            "severity"))


def test_it_rewrites_only_the_findings_of_the_advisories_the_import_changed(tmp_path, published):
    _, changed = vulndb_import(source="osv", path=write(
        tmp_path, osv("DEB-2024-0001"), osv("DEB-2024-0002", fixed=None), osv("DEB-2024-0003", fixed="3.0.12-1")))
    reevaluate_after_import(changed)
    scan = published.scan
    before = dict(scan.findings.values_list("advisory__osv_id", "pk"))
    assert set(before) == {"DEB-2024-0001", "DEB-2024-0002", "DEB-2024-0003"}

    # 0001 gets an urgency, 0002 is withdrawn, 0004 is new; 0003 is not in the import
    _, changed = vulndb_import(source="osv", path=write(
        tmp_path, osv("DEB-2024-0001", modified="2024-02-01T00:00:00Z", urgency="high"),
        osv("DEB-2024-0002", modified="2024-02-01T00:00:00Z", fixed=None, withdrawn="2024-02-01T00:00:00Z"),
        osv("DEB-2024-0004", fixed=None)))
    assert len(changed.advisories) == 3
    reevaluate_after_import(changed)
    after = dict(scan.findings.values_list("advisory__osv_id", "pk"))
    assert set(after) == {"DEB-2024-0001", "DEB-2024-0003", "DEB-2024-0004"}
    assert after["DEB-2024-0003"] == before["DEB-2024-0003"], "an advisory the import did not change: same row"
    assert after["DEB-2024-0001"] != before["DEB-2024-0001"]
    assert scan.findings.get(advisory__osv_id="DEB-2024-0001").severity == "High"
    assert stored(scan) == whole_match(scan)


def test_a_plain_set_of_pairs_rematches_every_advisory_of_them(tmp_path, published):
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001"), osv("DEB-2024-0002")))
    reevaluate_after_import(set(changed))  # no advisory ids: every advisory of the pairs is matched
    assert stored(published.scan) == whole_match(published.scan) and len(stored(published.scan)) == 2
    published.scan.findings.filter(advisory__osv_id="DEB-2024-0002").delete()  # out of date, however it came
    reevaluate_after_import({("Debian:12", "openssl")})
    assert stored(published.scan) == whole_match(published.scan) and len(stored(published.scan)) == 2


def test_a_verdict_that_would_not_change_is_marked_current_not_made_again(tmp_path, published, member):
    from compliance.gate import verdict_make_current

    second = another_build(published, member)
    for build in (published, second):
        verdict_evaluate(build=build)
    run, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", urgency="low")))
    reevaluate_after_import(changed)  # a new Low finding: the counts change, new verdicts
    latest = second.verdicts.order_by("-created").first()
    assert latest.trigger == "reevaluation" and latest.database_version == run.pk and latest.passed
    assert latest.results[-1]["evidence"]["counts"]["Low"] == 1
    verdicts = Verdict.objects.count()

    # a new fix for a Low finding: the finding is rewritten, the verdicts would say the same
    run, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", modified="2024-02-01T00:00:00Z", urgency="low", fixed="3.0.13-1")))
    assert second.scan.findings.get().fixed_version == "3.0.11-1~deb12u2"
    reevaluate_after_import(changed)
    assert second.scan.findings.get().fixed_version == "3.0.13-1"
    assert Verdict.objects.count() == verdicts + 1, "only the first build of a run, evaluated whole, has a new one"
    current = second.verdicts.order_by("-created").first()
    assert current.pk == latest.pk and current.database_version == run.pk
    whole = verdict_evaluate(build=second, trigger="check")
    assert (whole.passed, whole.results) == (current.passed, current.results)
    whole.delete()
    verdict_make_current(second)  # the gate finds it current: nothing evaluated again
    assert Verdict.objects.count() == verdicts + 1


def test_the_threshold_rule_gives_the_same_result_from_counts():
    from compliance.policy.threshold import rule_vulnerability_threshold

    findings = [{"vulnerability_id": f"CVE-1-{i}", "severity": severity, "fixed_version": fixed,
                 "installed_version": "1", "package": "p"}
                for i, (severity, fixed) in enumerate([("Critical", "2"), ("High", ""), ("Low", "2"), ("Medium", ""),
                                                       ("Unknown", ""), ("High", "3"), ("Weird", "")])]
    limits = {"block": {"Critical", "High"}, "fixable_only": True}
    counts = {}
    for f in findings:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    blocking = [f for f in findings if f["severity"] in limits["block"] and f["fixed_version"]]
    assert rule_vulnerability_threshold(blocking, counts=counts, **limits) == \
        rule_vulnerability_threshold(findings, **limits)
    assert rule_vulnerability_threshold([], counts={"Low": 2}, **limits) == \
        rule_vulnerability_threshold(findings[2:3] * 2, **limits)


@pytest.mark.parametrize("with_ids", [True, False])
def test_a_package_named_in_two_chunks_is_matched_once(tmp_path, published, monkeypatch, with_ids):
    from compliance.vulndb import matching

    monkeypatch.setattr(matching, "CHUNK", 1)  # one name a query: libssl3 (its name), then openssl (its source)
    _, changed = vulndb_import(source="osv", path=write(
        tmp_path, osv("DEB-2024-0001"), osv("DEB-2024-0002", name="libssl3", fixed=None)))
    assert changed == {("Debian:12", "openssl"), ("Debian:12", "libssl3")}
    for _ in range(2):
        reevaluate_after_import(changed if with_ids else set(changed))
        assert stored(published.scan) == whole_match(published.scan) and len(stored(published.scan)) == 1


def test_changes_of_several_imports_keep_their_advisory_ids_only_while_every_import_knows_them():
    from compliance.vulndb.store import Changed

    first, second = Changed({("PyPI", "a")}), Changed({("PyPI", "b")})
    first.advisories, second.advisories = {1}, {2}
    combined = Changed()
    combined.absorb(first)
    combined.absorb(set())  # a feed that changed nothing (unchanged, failed) does not blur the ids
    combined.absorb(second)
    assert combined == {("PyPI", "a"), ("PyPI", "b")} and combined.advisories == {1, 2}
    combined.absorb({("PyPI", "c")})  # a plain set of pairs: which advisories is unknown
    assert ("PyPI", "c") in combined and combined.advisories is None


PYSPARK_EVENTS = [{"introduced": "0"}, {"fixed": "3.1.1"}, {"introduced": "3.2.0"}, {"fixed": "3.2.2"},
                  {"introduced": "3.1.1"}, {"fixed": "3.1.3"}]


def test_after_the_reading_of_ranges_changed_the_records_it_concerns_are_matched_again(tmp_path, published):
    """PyPA's pyspark record without its versions list: 3.1.2 was read as not affected (the fix of
    the 3.0 line at 3.1.1 closed the 3.1 line it opened). Stored SBOMs are matched again by command."""
    from django.core.management import call_command

    from compliance.models import Finding

    SbomPackage.objects.create(scan=published.scan, type="pypi", name="pyspark", source_name="pyspark", version="3.1.2")
    record = {"id": "PYSEC-2022-236", "modified": "2022-07-25T14:38:46Z", "aliases": ["CVE-2022-33891"],
              "summary": "pyspark shell command injection",
              "affected": [{"package": {"ecosystem": "PyPI", "name": "pyspark"},
                            "ranges": [{"type": "ECOSYSTEM", "events": PYSPARK_EVENTS}]}]}
    vulndb_import(source="osv", path=write(tmp_path, record, osv("DEB-2024-0001", fixed="3.0.13-1~deb12u1")))
    Finding.objects.filter(scan=published.scan).delete()  # what an earlier portal's matching left

    call_command("vulndb_rematch")

    found = {(f.package.name, f.advisory.osv_id, f.fixed_version) for f in Finding.objects.filter(scan=published.scan)}
    assert ("pyspark", "PYSEC-2022-236", "3.1.3") in found, found
    assert not any(osv_id == "DEB-2024-0001" for _, osv_id, _ in found), "records whose reading did not change are left"
    call_command("vulndb_rematch", "--all")
    assert Finding.objects.filter(scan=published.scan, advisory__osv_id="DEB-2024-0001").exists()
    assert published.verdicts.order_by("-created").first().trigger == "reevaluation"


def _pypi_record(id, name, fixed):
    return {"id": id, "modified": "2024-01-01T00:00:00Z", "aliases": [], "summary": f"{name} issue",
            "affected": [{"package": {"ecosystem": "PyPI", "name": name},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}


def test_a_record_naming_a_package_in_another_spelling_matches_the_installed_package(tmp_path, published):
    from compliance.models import AffectedPackage, Finding

    # as the SBOM reader stores them: the distribution's own spelling, and PEP 503's as source_name
    SbomPackage.objects.create(scan=published.scan, type="pypi", name="PyYAML", source_name="pyyaml", version="5.3")
    SbomPackage.objects.create(scan=published.scan, type="pypi", name="jw_util", source_name="jw-util", version="1.0")
    run, changed = vulndb_import(source="osv", path=write(tmp_path, _pypi_record("PYSEC-2020-96", "PyYAML", "5.4"),
                                                          _pypi_record("PYSEC-2021-1", "jw.util", "2.0")))
    assert changed == {("PyPI", "pyyaml"), ("PyPI", "jw-util")}
    assert {"pyyaml", "jw-util"} <= set(AffectedPackage.objects.filter(ecosystem="PyPI").values_list("name", flat=True))
    assert not AffectedPackage.objects.filter(name__in=["PyYAML", "jw.util"]).exists()
    reevaluate_after_import(changed)
    found = set(Finding.objects.filter(scan=published.scan).values_list("package__name", "advisory__osv_id"))
    assert found == {("PyYAML", "PYSEC-2020-96"), ("jw_util", "PYSEC-2021-1")}


def test_records_stored_under_their_own_spelling_by_an_earlier_portal_are_matched_again(tmp_path, published):
    """What migration 0017 leaves: the names re-spelled, the findings of the old matching (none)."""
    from django.core.management import call_command

    from compliance.models import Advisory, Finding

    SbomPackage.objects.create(scan=published.scan, type="pypi", name="pyyaml", source_name="pyyaml", version="5.3")
    vulndb_import(source="osv", path=write(tmp_path, _pypi_record("PYSEC-2020-96", "PyYAML", "5.4")))
    advisory = Advisory.objects.get(osv_id="PYSEC-2020-96")
    advisory.record["affected"][0]["name"] = "PyYAML"  # as the record was stored before names were normalised
    advisory.save()
    Finding.objects.filter(scan=published.scan).delete()

    call_command("vulndb_rematch")

    assert Finding.objects.filter(scan=published.scan, advisory=advisory, package__name="pyyaml").exists()


@pytest.mark.django_db(transaction=True)
def test_its_verdict_batches_run_on_several_connections_and_add_up_to_one_run(tmp_path, published, recipe, member,
                                                                                webhook, monkeypatch, settings):
    """Committed data (no test transaction): the batches after the first run in threads, each on a
    connection of its own, and their flips and alerts add up as if they had run one by one."""
    from compliance.vulndb import reevaluation

    monkeypatch.setattr(reevaluation, "BUILDS_PER_BATCH", 1)
    settings.REEVALUATION_CONNECTIONS = 3
    builds = [published, *(published_build(recipe, member, digit=d, tag=d) for d in "89a")]
    threads, batch = set(), reevaluation._Verdicts.batch

    def batch_noting_its_thread(self, scan_ids):
        threads.add(threading.current_thread().name)
        return batch(self, scan_ids)
    monkeypatch.setattr(reevaluation._Verdicts, "batch", batch_noting_its_thread)

    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")))
    counts = reevaluate_after_import(changed)

    assert counts == {"scans": 4, "flipped_to_fail": 4, "flipped_to_pass": 0, "alerts": 4}
    assert [b.verdicts.order_by("-created").first().passed for b in builds] == [False] * 4
    assert any(name.startswith("verdicts") for name in threads), threads
    assert len(webhook[1]) == 1, "one alert for the team, naming its four images"


@pytest.mark.django_db(transaction=True)
def test_findings_are_written_a_batch_at_a_time_while_the_verdicts_of_those_written_are_made(
        tmp_path, published, recipe, member, monkeypatch, settings):
    """Committed data: each batch's findings are committed on their own, the verdicts of a batch
    are made (on another connection) from its committed findings, and the first verdicts are
    made before the last findings are written."""
    from compliance.models import Finding
    from compliance.vulndb import matching, reevaluation

    monkeypatch.setattr(reevaluation, "BUILDS_PER_BATCH", 1)
    settings.REEVALUATION_CONNECTIONS = 2
    builds = [published, *(published_build(recipe, member, digit=d, tag=d) for d in "89a")]
    verdicts_begun, seen_by_verdicts, writes_after_verdicts = threading.Event(), {}, []
    batch, write = reevaluation._Verdicts.batch, matching._findings_write

    def batch_reading_its_findings(self, scan_ids):
        verdicts_begun.set()
        for scan_id in scan_ids:  # this thread's connection sees committed rows only
            seen_by_verdicts[scan_id] = Finding.objects.filter(scan_id=scan_id, vulnerability_id="CVE-0001-0001").exists()
        return batch(self, scan_ids)

    def write_noting_the_verdicts(stale, fresh):
        if {row[0] for row in fresh} != {published.scan.pk}:  # not the first batch: the verdicts of those before may begin
            writes_after_verdicts.append(verdicts_begun.wait(timeout=30))
        return write(stale, fresh)
    monkeypatch.setattr(reevaluation._Verdicts, "batch", batch_reading_its_findings)
    monkeypatch.setattr(matching, "_findings_write", write_noting_the_verdicts)

    _, changed = vulndb_import(source="osv", path=write_osv(tmp_path))
    counts = reevaluate_after_import(changed)

    assert counts == {"scans": 4, "flipped_to_fail": 4, "flipped_to_pass": 0, "alerts": 4}
    assert seen_by_verdicts == {b.scan.pk: True for b in builds}, "every verdict made from committed findings"
    assert writes_after_verdicts == [True] * 3, "the first verdicts were under way before the next findings were written"
    assert [b.verdicts.order_by("-created").first().passed for b in builds] == [False] * 4


def write_osv(tmp_path):
    return write(tmp_path, osv("DEB-2024-0001", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"))


@pytest.mark.django_db(transaction=True)
def test_a_re_evaluation_whose_writing_fails_half_way_keeps_what_it_committed_and_is_finished_later(
        tmp_path, published, recipe, member, monkeypatch, settings):
    """Committed data: the database goes away while the second batch of findings is written. The
    first batch's findings and verdicts stay committed, the run fails and owes its changes, and
    the next run (resumed) rewrites the rest and brings every verdict up to date."""
    from compliance.models import Finding, ReevaluationDue
    from compliance.vulndb import matching, reevaluation

    monkeypatch.setattr(reevaluation, "BUILDS_PER_BATCH", 1)
    settings.REEVALUATION_CONNECTIONS = 2
    builds = [published, *(published_build(recipe, member, digit=d, tag=d) for d in "89a")]
    write, parts = matching._findings_write, []

    def write_failing_at_the_second_part(stale, fresh):
        parts.append(fresh)
        if len(parts) == 2:
            raise OSError("the database went away")
        return write(stale, fresh)
    monkeypatch.setattr(matching, "_findings_write", write_failing_at_the_second_part)
    vulndb_import(source="osv", path=write_osv(tmp_path))

    with pytest.raises(OSError):
        reevaluation.reevaluate_due()

    def rewritten(build):
        return Finding.objects.filter(scan=build.scan, vulnerability_id="CVE-0001-0001").exists()
    assert [rewritten(b) for b in builds] == [True, False, False, False], "the first batch was committed, alone"
    assert not builds[0].verdicts.order_by("-created").first().passed, "with its verdict"
    assert all(b.verdicts.order_by("-created").first().passed for b in builds[1:])
    assert {row.attempts for row in ReevaluationDue.objects.all()} == {1}, "the changes are still owed"

    monkeypatch.setattr(matching, "_findings_write", write)
    counts = reevaluation.reevaluate_due()

    assert counts["resumed"] and counts["flipped_to_fail"] == 3
    assert all(rewritten(b) for b in builds)
    assert [b.verdicts.order_by("-created").first().passed for b in builds] == [False] * 4
    assert not ReevaluationDue.objects.exists()
