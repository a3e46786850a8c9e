"""Rules as data: seeded global rows, team overrides, the rule set a verdict records, the gate
and re-evaluation under a changed rule set."""
import pytest
from django.urls import reverse

from builds.models import Recipe
from builds.recipes.services import recipe_runtime_set
from builds.services import build_request
from compliance.gate import GateClosed, image_publish, verdict_make_current
from compliance.models import PolicyRule, Verdict
from compliance.policy.evaluation import verdict_evaluate
from compliance.policy.ruleset import BUILT_IN_KINDS, EffectiveRule, RuleSet, default_params, ruleset_for
from compliance.policy.services import policy_rule_save
from compliance.vulndb.reevaluation import reevaluate_after_import
from compliance.vulndb.store import vulndb_import
from portal.models import GlobalRole
from tests.compliance.vulndb.test_reevaluation import CRITICAL, another_build, published, webhook  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_store import osv, write
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


@pytest.fixture
def unpublished(published, member):  # noqa: F811
    """A scanned, pushed build of the recipe that is not published yet (libssl3 in its SBOM)."""
    return another_build(published, member)


def latest(build):
    return build.verdicts.order_by("-created", "-pk").first()


def results_by_rule(verdict) -> dict:
    return {r["rule"]: r for r in verdict.results}


def test_the_seeded_global_rows_enforce_what_the_hard_coded_policy_did():
    assert set(PolicyRule.objects.filter(team=None).values_list("kind", flat=True)) == set(BUILT_IN_KINDS)
    seeded = ruleset_for(None)
    defaults = RuleSet(tuple(EffectiveRule(kind, "block", default_params(kind), "default") for kind in BUILT_IN_KINDS))
    assert seeded.version == defaults.version, "where a rule comes from must not change the rule set's version"
    assert {r.source for r in seeded.rules} == {"global"}
    assert seeded.get("vulnerability-threshold").params == {"severities": ["Critical", "High"], "fixable_only": True}


def test_built_in_kinds_keep_their_defaults_when_the_table_is_empty():
    PolicyRule.objects.all().delete()  # as a flushed test database, or an admin deleting the rows
    rules = ruleset_for(None)
    assert [r.kind for r in rules.rules] == BUILT_IN_KINDS
    assert {r.source for r in rules.rules} == {"default"}


def test_a_team_row_overrides_the_global_row_for_that_team_only(team, other_team, admin):
    policy_rule_save(actor=admin, team=team, kind="vulnerability-threshold",
                     params={"severities": ["Critical"], "fixable_only": False})
    policy_rule_save(actor=admin, team=team, kind="non-root-user", enabled=False)
    policy_rule_save(actor=admin, team=None, kind="banned-packages", params={"packages": [{"name": "telnet"}]})
    mine, theirs = ruleset_for(team), ruleset_for(other_team)
    assert mine.get("vulnerability-threshold").params == {"severities": ["Critical"], "fixable_only": False}
    assert mine.get("vulnerability-threshold").source == "team"
    assert mine.get("non-root-user") is None, "a disabled team row turns the global rule off for the team"
    assert theirs.get("vulnerability-threshold").params["severities"] == ["Critical", "High"]
    assert theirs.get("non-root-user").source == "global"
    assert mine.get("banned-packages").source == theirs.get("banned-packages").source == "global"
    assert mine.version != theirs.version == ruleset_for(None).version


def test_the_verdict_records_the_rule_set_it_used(unpublished, admin):
    verdict = verdict_evaluate(build=unpublished)
    assert verdict.passed
    assert verdict.ruleset_version == ruleset_for(unpublished.team).version and len(verdict.ruleset_version) == 64
    assert [r["kind"] for r in verdict.ruleset] == [r["rule"] for r in verdict.results]
    assert verdict.policy_version == Verdict.POLICY_VERSION
    policy_rule_save(actor=admin, team=unpublished.team, kind="banned-packages",
                     params={"packages": [{"name": "libssl3", "ecosystem": "Debian", "version": "<3.0.12"}]})
    after = verdict_evaluate(build=unpublished)
    assert not after.passed and after.ruleset_version != verdict.ruleset_version
    banned = results_by_rule(after)["banned-packages"]
    assert banned["status"] == "fail"
    assert banned["evidence"]["matches"][0] | {"banned": None} == {
        "package": "libssl3", "version": "3.0.11-1~deb12u1", "type": "deb", "layer": None, "banned": None,
        "version_unordered": False}
    assert {"kind": "banned-packages", "source": "team"}.items() <= after.ruleset[-3].items()


def test_a_warn_rule_is_reported_but_does_not_block(unpublished, admin):
    policy_rule_save(actor=admin, team=None, kind="banned-packages", action="warn", params={"packages": [{"name": "openssl"}]})
    verdict = verdict_evaluate(build=unpublished)
    assert verdict.passed
    assert results_by_rule(verdict)["banned-packages"]["status"] == "warn"
    assert [r["rule"] for r in verdict.warnings] == ["banned-packages"]


def test_a_rule_with_invalid_stored_params_fails_closed(unpublished, admin):
    rule = policy_rule_save(actor=admin, team=None, kind="banned-packages", params={"packages": [{"name": "telnet"}]})
    PolicyRule.objects.filter(pk=rule.pk).update(params={"packages": "everything"})  # bypassing validation
    verdict = verdict_evaluate(build=unpublished)
    assert not verdict.passed
    assert "parameters are invalid" in results_by_rule(verdict)["banned-packages"]["message"]


def test_the_runtime_rule_reads_the_settings_the_build_recorded(unpublished, member, admin):
    policy_rule_save(actor=admin, team=None, kind="runtime-privileges", params={"allowed_capabilities": ["NET_BIND_SERVICE"]})
    recipe_runtime_set(user=member, recipe=unpublished.recipe, runtime={"privileged": False, "cap_add": ["net_admin"]})
    build = build_request(user=member, recipe=Recipe.objects.get(pk=unpublished.recipe.pk))
    assert build.snapshot["runtime"] == {"privileged": False, "cap_add": ["NET_ADMIN"]}
    build.scan = unpublished.scan  # the same image; the runtime rule reads only the build's snapshot
    result = results_by_rule(verdict_evaluate(build=build))["runtime-privileges"]
    assert result["status"] == "fail" and "NET_ADMIN" in result["message"]
    assert results_by_rule(verdict_evaluate(build=unpublished))["runtime-privileges"]["status"] == "pass", \
        "an earlier build keeps the settings it was built with"


def test_the_gate_reevaluates_a_verdict_from_an_older_rule_set_before_publishing(unpublished, member, admin):
    verdict_evaluate(build=unpublished)
    verdict_make_current(unpublished)
    assert unpublished.verdicts.count() == 1, "a current verdict is not evaluated again"

    policy_rule_save(actor=admin, team=None, kind="banned-packages", params={"packages": [{"name": "openssl"}]})
    with pytest.raises(GateClosed, match="No banned packages: 1 banned package: libssl3"):
        image_publish(build=unpublished, actor=member)
    verdict = latest(unpublished)
    assert verdict.trigger == "gate" and verdict.ruleset_version == ruleset_for(unpublished.team).version
    unpublished.refresh_from_db()
    assert unpublished.published_reference == ""


def test_the_gate_reevaluates_after_a_team_override_changes(unpublished, admin):
    verdict_evaluate(build=unpublished)
    policy_rule_save(actor=admin, team=unpublished.team, kind="dockerfile-lint", action="warn")
    verdict_make_current(unpublished)
    assert unpublished.verdicts.count() == 2 and latest(unpublished).trigger == "gate"
    lint = next(r for r in latest(unpublished).ruleset if r["kind"] == "dockerfile-lint")
    assert lint == {"kind": "dockerfile-lint", "action": "warn", "params": {}, "source": "team", "error": ""}


def test_reevaluation_evaluates_whole_builds_whose_rule_set_changed(tmp_path, published, unpublished, admin, caplog):
    for build in (published, unpublished):
        verdict_evaluate(build=build)
    policy_rule_save(actor=admin, team=None, kind="banned-packages", params={"packages": [{"name": "zlib1g"}]})
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    with caplog.at_level("INFO", logger="compliance.vulndb.reevaluation"):
        reevaluate_after_import(changed)
    assert "2 verdicts (2 evaluated whole)" in caplog.text, "nothing may be carried from an older rule set"
    for build in (published, unpublished):
        verdict = latest(build)
        assert "banned-packages" in results_by_rule(verdict)
        assert verdict.ruleset_version == ruleset_for(build.team).version


def test_reevaluation_carries_results_under_todays_rule_set_and_records_it(tmp_path, published, unpublished, caplog):
    for build in (published, unpublished):
        verdict_evaluate(build=build)
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    with caplog.at_level("INFO", logger="compliance.vulndb.reevaluation"):
        reevaluate_after_import(changed)
    assert "2 verdicts (1 evaluated whole)" in caplog.text
    carried = latest(unpublished)
    assert carried.ruleset_version == ruleset_for(None).version and carried.ruleset == ruleset_for(None).snapshot()


def test_reevaluation_evaluates_whole_the_builds_of_a_team_with_its_own_rules(tmp_path, published, unpublished, admin,
                                                                              caplog):
    policy_rule_save(actor=admin, team=published.team, kind="vulnerability-threshold",
                     params={"severities": ["Critical", "High", "Medium"], "fixable_only": False})
    for build in (published, unpublished):
        verdict_evaluate(build=build)
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL, fixed=None)))
    with caplog.at_level("INFO", logger="compliance.vulndb.reevaluation"):
        reevaluate_after_import(changed)
    assert "2 verdicts (2 evaluated whole)" in caplog.text
    threshold = results_by_rule(latest(unpublished))["vulnerability-threshold"]
    assert threshold["status"] == "fail", "the team's threshold blocks findings without a fix; the global one does not"


def test_the_build_and_report_pages_show_the_rule_set_of_the_verdict(client, unpublished, member, admin):
    policy_rule_save(actor=admin, team=unpublished.team, kind="banned-packages", action="warn",
                     params={"packages": [{"name": "libssl3"}]})
    verdict = verdict_evaluate(build=unpublished)
    client.force_login(member)
    for name in ("build-detail", "image-report"):
        page = client.get(reverse(name, args=[unpublished.pk])).content.decode()
        assert f'title="{verdict.ruleset_version}"' in page and f"policy version {Verdict.POLICY_VERSION}" in page, name
        assert "banned-packages</code> · warn · team rule" in page, name
    detail = client.get(reverse("build-detail", args=[unpublished.pk])).content.decode()
    assert "! Warning · <strong>No banned packages</strong>" in detail and "Passed with warnings" in detail
