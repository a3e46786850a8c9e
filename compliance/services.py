"""Compliance writes: record the SBOM of a pushed image and the policy verdict for a build."""
from dataclasses import dataclass, field
from functools import cached_property

from django.db import transaction
from django.utils import timezone

from builds.models import Build
from catalog.models import BaseImage
from catalog.services import registry_client
from compliance.models import ImageScan, SbomPackage, Verdict
from compliance.policy import (ApprovedBase, RuleResult, rule_approved_base, rule_no_secrets_in_env,
                               rule_no_secrets_in_layers, rule_non_root_user)
from compliance.policy_rules_extra import rule_banned_packages, rule_runtime_privileges
from compliance.ruleset import EffectiveRule, ruleset_for
from compliance.lint import rule_dockerfile_lint
from compliance.policy_vulns import rule_vulnerability_threshold
from compliance.vulndb_store import database_version
from compliance.sbom.models import ImageFacts
from compliance.sbom.reader import read_image
from portal.registry import RegistryError


def image_scan(*, build: Build) -> ImageScan:
    """Read the quarantined image's layers from the registry (no Docker Engine needed)."""
    scan, _ = ImageScan.objects.update_or_create(
        build=build, defaults={"digest": build.digest, "repository": build.quarantine_repository,
                               "status": ImageScan.Status.SCANNING, "error": ""}
    )
    try:
        facts = read_image(registry_client(), build.quarantine_repository, build.digest)
    except (RegistryError, OSError, ValueError) as error:
        scan.status, scan.error, scan.finished = ImageScan.Status.FAILED, str(error), timezone.now()
        scan.save()
        return scan
    with transaction.atomic():
        scan.packages.all().delete()
        SbomPackage.objects.bulk_create(
            SbomPackage(
                scan=scan, type=p.type, name=p.name, version=p.version, source_name=p.source_name,
                source_version=p.source_version, architecture=p.architecture, layer_index=p.layer_index,
            )
            for p in facts.packages
        )
        scan.facts = facts.to_dict()
        scan.os_id = facts.os.get("ID", "")
        scan.os_version = facts.os.get("VERSION_ID", "")
        scan.status, scan.finished = ImageScan.Status.DONE, timezone.now()
        scan.save()
    return scan


def scan_reuse(*, build: Build, source: Build) -> ImageScan:
    """The same image (same digest) has the same SBOM: copy the earlier scan instead of reading
    the layers again. Findings are matched afresh against today's database."""
    original = source.scan
    with transaction.atomic():
        ImageScan.objects.filter(build=build).delete()
        scan = ImageScan.objects.create(
            build=build, digest=build.digest, repository=build.quarantine_repository, status=original.status,
            os_id=original.os_id, os_version=original.os_version, facts=original.facts, finished=timezone.now())
        SbomPackage.objects.bulk_create(
            SbomPackage(scan=scan, type=p.type, name=p.name, version=p.version, source_name=p.source_name,
                        source_version=p.source_version, architecture=p.architecture, layer_index=p.layer_index)
            for p in original.packages.all()
        )
    return scan


def approved_bases() -> list[ApprovedBase]:
    return [
        ApprovedBase(reference=f"{b.repository}@{b.digest}", layer_digests=list(b.layer_digests))
        for b in BaseImage.objects.filter(approved=True).exclude(digest="")
    ]


def findings_as_dicts(scan) -> list[dict]:
    return [
        {"vulnerability_id": f.vulnerability_id, "severity": f.severity, "fixed_version": f.fixed_version,
         "installed_version": f.installed_version, "package": f.package.name}
        for f in scan.findings.select_related("package")
    ]


def packages_as_dicts(scan) -> list[dict]:
    return list(scan.packages.values("type", "name", "version", "source_name", "layer_index"))


def verdict_evaluate(*, build: Build, trigger: str = "build") -> Verdict:
    """Evaluate the team's effective rules on the build's scan and findings; store the verdict
    with its evidence, the rule set and the database version it was computed against."""
    ruleset = ruleset_for(build.team)
    findings = findings_as_dicts(build.scan)
    waivers = waivers_for(build, findings)
    inputs = _RuleInputs(build, findings, waivers)
    results = [_rule_apply(rule, _rule_run(rule, inputs)) for rule in ruleset.rules]
    for result in results:
        exception = waivers.rules.get(result["rule"])
        if result["status"] == "fail" and exception is not None:
            result["status"] = "waived"
            result["message"] += f" Waived by exception {exception.pk} until {exception.expires_at:%Y-%m-%d}."
            result["evidence"]["exception"] = exception.pk
    return Verdict.objects.create(
        build=build, passed=all(r["status"] != "fail" for r in results), results=results,
        database_version=database_version(), ruleset_version=ruleset.version, ruleset=ruleset.snapshot(),
        trigger=trigger)


class _RuleInputs:
    """What the rules read about one build; the facts and packages are loaded once, when a rule needs them."""

    def __init__(self, build: Build, findings: list[dict], waivers):
        self.build, self.findings, self.waivers = build, findings, waivers

    @cached_property
    def facts(self) -> ImageFacts:
        return ImageFacts.from_dict(self.build.scan.facts)

    @cached_property
    def packages(self) -> list[dict]:
        return packages_as_dicts(self.build.scan)


def _rule_run(rule: EffectiveRule, inputs: _RuleInputs) -> dict:
    """One rule's result as a dict; a rule whose stored parameters are invalid fails (closed)."""
    if rule.error:
        return RuleResult(rule.kind, rule.title, "fail", f"This rule's parameters are invalid ({rule.error}); "
                          "a platform admin must correct them.", {"params": rule.params}).to_dict()
    kind, params, build = rule.kind, rule.params, inputs.build
    if kind == "vulnerability-threshold":
        return _threshold_with_waivers(inputs.findings, inputs.waivers, params)
    if kind == "dockerfile-lint":
        stages = build.dockerfile + build.script_stage.replace("FROM portal-stage-one", "FROM scratch")
        return rule_dockerfile_lint(stages).to_dict()
    if kind == "banned-packages":
        return rule_banned_packages(inputs.packages, packages_banned=params["packages"]).to_dict()
    if kind == "runtime-privileges":
        return rule_runtime_privileges(build.snapshot.get("runtime") or {}, **params).to_dict()
    if kind == "approved-base":
        return rule_approved_base(inputs.facts, approved_bases()).to_dict()
    image_rules = {"non-root-user": rule_non_root_user, "no-secrets-in-env": rule_no_secrets_in_env,
                   "no-secrets-in-layers": rule_no_secrets_in_layers}
    return image_rules[kind](inputs.facts).to_dict()


def _rule_apply(rule: EffectiveRule, result: dict) -> dict:
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
    """Active exceptions for the build, minus those that end now that a fix is available."""
    from compliance.exceptions import exception_end_fixed, exceptions_active_for
    from compliance.models import PolicyException

    waivers = Waivers()
    fixable = {f["vulnerability_id"] for f in findings if f["fixed_version"]}
    fixable_packages = {f["package"] for f in findings if f["fixed_version"]}
    for exception in exceptions_active_for(build):
        kind, target = exception.target_kind, exception.target
        if exception.end_when_fixed and (
                (kind == PolicyException.Target.VULNERABILITY and target in fixable)
                or (kind == PolicyException.Target.PACKAGE and target in fixable_packages)):
            exception_end_fixed(exception)
            continue
        bucket = {"vulnerability": waivers.vulnerabilities, "package": waivers.packages, "rule": waivers.rules}[kind]
        bucket[target] = exception
        waivers.used.add(exception.pk)
    return waivers
