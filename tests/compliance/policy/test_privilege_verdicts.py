"""The privilege rules through the doors that evaluate a build: the verdict (with the build's own
Dockerfile line as evidence), the gate, and the scan reuse of an identical image."""
import pytest

from builds.models import Build
from compliance import scans
from compliance.door import build_scan
from compliance.gate import GateClosed, image_publish
from compliance.models import ImageScan, PolicyRule, Verdict
from compliance.policy.evaluation import verdict_evaluate
from compliance.policy.services import policy_rule_save
from compliance.sbom.models import ImageFacts, SpecialFile
from portal.models import GlobalRole
from tests.compliance.vulndb.test_reevaluation import another_build, published, webhook  # noqa: F401  (fixtures)
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db

PRIVILEGE_RULES = ["non-root-group", "no-root-accounts", "no-setuid-files", "no-file-capabilities",
                   "no-world-writable", "no-onbuild"]


@pytest.fixture
def unpublished(published, member):  # noqa: F811
    return another_build(published, member)


def with_facts(build: Build, change) -> Build:
    facts = ImageFacts.from_dict(build.scan.facts)
    change(facts)
    ImageScan.objects.filter(pk=build.scan.pk).update(facts=facts.to_dict())
    build.refresh_from_db()
    return build


def results(verdict) -> dict:
    return {r["rule"]: r for r in verdict.results}


def test_the_privilege_rules_are_global_blocking_rows_and_pass_a_clean_image(unpublished):
    rows = PolicyRule.objects.filter(team=None, kind__in=PRIVILEGE_RULES)
    assert sorted(rows.values_list("kind", "action", "enabled")) == sorted((k, "block", True) for k in PRIVILEGE_RULES)
    verdict = verdict_evaluate(build=unpublished)
    assert verdict.passed, verdict.failures
    assert all(results(verdict)[kind]["status"] == "pass" for kind in PRIVILEGE_RULES)


def test_a_setuid_file_above_the_base_blocks_with_the_component_line_that_made_its_layer(unpublished):
    run_line = next(line for line in unpublished.dockerfile.splitlines() if line.startswith("RUN "))

    def setuid_shell(facts):
        facts.layer_digests = facts.layer_digests + ["sha256:" + "9" * 64]
        facts.config["history"] = [{"created_by": "Imported from -"}, {"created_by": f"/bin/sh -c {run_line[4:]}"}]
        facts.privileges.special_files = [SpecialFile(path="bin/busybox", layer_index=1, type="file", mode=0o4755)]

    verdict = verdict_evaluate(build=with_facts(unpublished, setuid_shell))
    assert not verdict.passed
    result = results(verdict)["no-setuid-files"]
    assert result["status"] == "fail"
    line = unpublished.dockerfile.splitlines().index(run_line) + 1
    assert result["evidence"]["files"] == [{
        "path": "/bin/busybox", "type": "file", "mode": "4755", "owner": "0:0", "layer": 1,
        "added_by": f"layer 1: Dockerfile line {line} (option: runtime-user 1): {run_line}"}]
    assert f"/bin/busybox (setuid, mode 4755, file, owner 0:0, layer 1: Dockerfile line {line}" in result["message"]


def test_a_team_may_turn_a_privilege_rule_into_a_warning_as_data(unpublished, team):
    admin = with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    with_facts(unpublished, lambda facts: facts.config["config"].update(OnBuild=["RUN id"]))
    assert not verdict_evaluate(build=unpublished).passed
    policy_rule_save(actor=admin, team=team, kind="no-onbuild", action="warn")
    verdict = verdict_evaluate(build=unpublished)
    assert verdict.passed and results(verdict)["no-onbuild"]["status"] == "warn"


def test_a_scan_stored_before_privileges_were_read_never_publishes_and_says_to_build_again(unpublished, member,
                                                                                          monkeypatch):
    def forget(facts):
        facts.privileges = None

    with_facts(unpublished, forget)
    Verdict.objects.create(build=unpublished, passed=True, results=[], policy_version="2")  # passed under the old rules
    copies = []
    monkeypatch.setattr("compliance.gate.registry_client", lambda: copies.append(1))
    with pytest.raises(GateClosed) as closed:
        image_publish(build=unpublished, actor=member)
    assert "Build it again for a fresh scan" in str(closed.value) and copies == []
    failing = {r["rule"] for r in unpublished.verdicts.order_by("-created").first().failures}
    assert {"non-root-group", "no-root-accounts", "no-setuid-files", "no-file-capabilities",
            "no-world-writable"} <= failing


def test_an_identical_image_is_scanned_again_when_the_earlier_scan_predates_the_privilege_facts(
        published, member, monkeypatch):  # noqa: F811
    fresh = []
    monkeypatch.setattr(scans, "image_scan", lambda *, build: fresh.append(build.pk) or published.scan)
    monkeypatch.setattr("compliance.door.image_scan", scans.image_scan)
    monkeypatch.setattr("compliance.door.scan_match", lambda scan: [])
    build = another_build(published, member)
    ImageScan.objects.filter(build=build).delete()

    assert build_scan(build, reuse_from=published).reused
    assert fresh == [] and ImageScan.objects.get(build=build).facts["privileges"] is not None

    old = published.scan.facts
    old.pop("privileges")
    ImageScan.objects.filter(pk=published.scan.pk).update(facts=old)
    again = another_build(published, member)
    ImageScan.objects.filter(build=again).delete()
    summary = build_scan(again, reuse_from=published)
    assert not summary.reused and fresh == [again.pk], "read from the registry again, not copied"
    assert scans.scan_reuse(build=again, source=published) is published.scan and fresh == [again.pk, again.pk]
