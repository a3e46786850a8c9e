"""Evaluate a build's verdict: the team's effective rules on its scan and findings, with the
exceptions that apply; the verdict is stored with the rule set and data version it was computed
under, and says when the image's vulnerabilities could not be assessed (compliance/vulndb/coverage.py)."""
from dataclasses import dataclass, field
from functools import cached_property

from builds.models import Build
from catalog.models import BaseImage
from compliance.exceptions.applying import exception_end_fixed, exceptions_active_for
from compliance.models import PolicyException, Verdict
from compliance.policy.lint import rule_dockerfile_lint
from compliance.policy.privileges import (
    rule_no_file_capabilities,
    rule_no_onbuild,
    rule_no_root_accounts,
    rule_no_setuid_files,
    rule_no_world_writable,
    rule_non_root_group,
)
from compliance.policy.provenance import BuildSource, LayerOrigins
from compliance.policy.rules import (
    ApprovedBase,
    RuleResult,
    approved_base_layers,
    rule_approved_base,
    rule_banned_packages,
    rule_no_secrets_in_env,
    rule_no_secrets_in_layers,
    rule_non_root_user,
    rule_runtime_privileges,
)
from compliance.policy.ruleset import EffectiveRule, RuleSet, default_params, ruleset_for
from compliance.policy.threshold import rule_vulnerability_data, rule_vulnerability_threshold, threshold_not_assessed
from compliance.sbom.models import ImageFacts
from compliance.vulndb.coverage import Coverage, scan_coverage
from compliance.vulndb.store import database_version


def approved_bases() -> list[ApprovedBase]:
    return [
        ApprovedBase(reference=f"{b.repository}@{b.digest}", layer_digests=list(b.layer_digests))
        for b in BaseImage.objects.filter(approved=True).exclude(digest="")
    ]


def findings_as_dicts(scan) -> list[dict]:
    """Rows, not Finding and SbomPackage objects: making two objects per finding was half of a
    whole evaluation of an image with 500 findings."""
    rows = scan.findings.order_by("id").values_list(
        "vulnerability_id", "severity", "fixed_version", "installed_version", "package__name")
    return [{"vulnerability_id": vulnerability_id, "severity": severity, "fixed_version": fixed,
             "installed_version": installed, "package": package}
            for vulnerability_id, severity, fixed, installed, package in rows]


def packages_as_dicts(scan) -> list[dict]:
    return list(scan.packages.values("type", "name", "version", "source_name", "layer_index"))


def verdict_evaluate(*, build: Build, trigger: str = "build") -> Verdict:
    """Evaluate the team's effective rules on the build's scan and findings; store the verdict
    with its evidence, the rule set and the database version it was computed against."""
    ruleset = ruleset_for(build.team)
    findings = findings_as_dicts(build.scan)
    waivers = waivers_for(build, findings)
    coverage = scan_coverage(build.scan, max_age_days=data_max_age_days(ruleset))
    inputs = _RuleInputs(build, findings, waivers, coverage)
    results = [rule_as_enforced(rule, _rule_run(rule, inputs)) for rule in ruleset.rules]
    for result in results:
        exception = waivers.rules.get(result["rule"])
        if result["status"] == "fail" and exception is not None:
            result["status"] = "waived"
            result["message"] += f" Waived by exception {exception.pk} until {exception.expires_at:%Y-%m-%d}."
            result["evidence"]["exception"] = exception.pk
    return Verdict.objects.create(
        build=build, passed=all(r["status"] != "fail" for r in results), results=results,
        database_version=database_version(), ruleset_version=ruleset.version, ruleset=ruleset.snapshot(),
        not_assessed=coverage.reason, trigger=trigger)


def data_max_age_days(ruleset: RuleSet) -> int:
    """How old vulnerability data may be: the team's vulnerability-data rule says, or the default.
    A team that turned the rule off still sees "not assessed" (it is then not enforced)."""
    rule = ruleset.get("vulnerability-data")
    if rule is None or rule.error:
        return default_params("vulnerability-data")["max_age_days"]
    return rule.params["max_age_days"]


def data_result(coverage: Coverage) -> dict:
    return rule_vulnerability_data(reason=coverage.reason, ecosystems=list(coverage.ecosystems),
                                   evidence=coverage.to_dict()).to_dict()


class _RuleInputs:
    """What the rules read about one build; the facts and packages are loaded once, when a rule needs them."""

    def __init__(self, build: Build, findings: list[dict], waivers, coverage: Coverage):
        self.build, self.findings, self.waivers, self.coverage = build, findings, waivers, coverage

    @cached_property
    def facts(self) -> ImageFacts:
        return ImageFacts.from_dict(self.build.scan.facts)

    @cached_property
    def packages(self) -> list[dict]:
        return packages_as_dicts(self.build.scan)

    @cached_property
    def bases(self) -> list[ApprovedBase]:
        return approved_bases()

    @cached_property
    def base_layers(self) -> int:
        return approved_base_layers(self.facts, self.bases)

    @cached_property
    def origins(self) -> LayerOrigins:
        """Which step of this build made each layer, for the privilege rules' evidence."""
        return build_layer_origins(self.build, self.facts.config, self.base_layers)


def build_layer_origins(build: Build, config: dict, base_layers: int) -> LayerOrigins:
    """Which step of this build made each layer of its image (`config`: the image's config)."""
    source = BuildSource(dockerfile=build.dockerfile, script_stage=build.script_stage,
                         own_dockerfile=(build.snapshot or {}).get("kind") == "dockerfile")
    return LayerOrigins(config, source, base_layers)


def _rule_run(rule: EffectiveRule, inputs: _RuleInputs) -> dict:
    """One rule's result as a dict; a rule whose stored parameters are invalid fails (closed)."""
    if rule.error:
        return RuleResult(rule.kind, rule.title, "fail", f"This rule's parameters are invalid ({rule.error}); "
                          "a platform admin must correct them.", {"params": rule.params}).to_dict()
    kind, params, build = rule.kind, rule.params, inputs.build
    if kind == "vulnerability-threshold":
        return threshold_not_assessed(_threshold_with_waivers(inputs.findings, inputs.waivers, params), inputs.coverage.reason)
    if kind == "vulnerability-data":
        return data_result(inputs.coverage)
    if kind == "dockerfile-lint":
        stages = build.dockerfile + build.script_stage.replace("FROM portal-stage-one", "FROM scratch")
        return rule_dockerfile_lint(stages).to_dict()
    if kind == "banned-packages":
        return rule_banned_packages(inputs.packages, packages_banned=params["packages"]).to_dict()
    if kind == "runtime-privileges":
        return rule_runtime_privileges(build.snapshot.get("runtime") or {}, **params).to_dict()
    if kind == "approved-base":
        return rule_approved_base(inputs.facts, inputs.bases).to_dict()
    above_base = {"no-setuid-files": rule_no_setuid_files, "no-file-capabilities": rule_no_file_capabilities,
                  "no-world-writable": rule_no_world_writable}
    if kind in above_base:
        return above_base[kind](inputs.facts, base_layers=inputs.base_layers, origins=inputs.origins).to_dict()
    if kind == "no-root-accounts":
        return rule_no_root_accounts(inputs.facts, origins=inputs.origins).to_dict()
    image_rules = {"non-root-user": rule_non_root_user, "no-secrets-in-env": rule_no_secrets_in_env,
                   "no-secrets-in-layers": rule_no_secrets_in_layers, "non-root-group": rule_non_root_group,
                   "no-onbuild": rule_no_onbuild}
    return image_rules[kind](inputs.facts).to_dict()


def rule_as_enforced(rule: EffectiveRule, result: dict) -> dict:
    """A failing warn-only rule is reported as 'warn' and does not block publication."""
    if rule.action == "warn" and result["status"] == "fail":
        result["status"] = "warn"
        result["evidence"]["action"] = "warn"
    return result


def _threshold_with_waivers(findings: list[dict], waivers, params: dict) -> dict:
    """The threshold rule as 'pass', 'fail', or 'waived' when only exceptions make it pass."""
    limits = {"block": set(params["severities"]), "fixable_only": params["fixable_only"]}
    strict = rule_vulnerability_threshold(findings, **limits).to_dict()
    if strict["status"] == "pass" or not (waivers.vulnerabilities or waivers.packages):
        return strict
    remaining = [f for f in findings if f["package"] not in waivers.packages]
    lenient = rule_vulnerability_threshold(remaining, waived=set(waivers.vulnerabilities), **limits).to_dict()
    if lenient["status"] == "fail":
        return lenient
    used = sorted({e.pk for e in (*waivers.vulnerabilities.values(), *waivers.packages.values())})
    strict["status"] = "waived"
    strict["message"] = strict["message"].split(":")[0] + f", all waived by exception{'s' if len(used) > 1 else ''} " \
        + ", ".join(str(pk) for pk in used) + "."
    strict["evidence"]["exceptions"] = used
    return strict


@dataclass
class Waivers:
    vulnerabilities: dict = field(default_factory=dict)  # id -> exception
    packages: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    used: set = field(default_factory=set)


def waivers_for(build: Build, findings: list[dict]) -> Waivers:
    """Active exceptions for the build, minus those that end now that a fix is available (ended here)."""
    waivers, ending = waivers_among(exceptions_active_for(build), findings)
    for exception in ending:
        exception_end_fixed(exception)
    return waivers


def waivers_among(exceptions: list[PolicyException], findings: list[dict]) -> tuple[Waivers, list[PolicyException]]:
    """Of these active exceptions, the waivers the findings leave, and those that end because a fix
    is available (not ended here: the scanner comparison reads the same answer without writing)."""
    waivers, ending = Waivers(), []
    fixable = {f["vulnerability_id"] for f in findings if f["fixed_version"]}
    fixable_packages = {f["package"] for f in findings if f["fixed_version"]}
    for exception in exceptions:
        kind, target = exception.target_kind, exception.target
        if exception.end_when_fixed and (
                (kind == PolicyException.Target.VULNERABILITY and target in fixable)
                or (kind == PolicyException.Target.PACKAGE and target in fixable_packages)):
            ending.append(exception)
            continue
        bucket = {"vulnerability": waivers.vulnerabilities, "package": waivers.packages, "rule": waivers.rules}[kind]
        bucket[target] = exception
        waivers.used.add(exception.pk)
    return waivers, ending
