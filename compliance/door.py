"""The one door from builds into compliance: the few calls the build pipeline and the builds pages
need, and nothing else of compliance is imported by builds (an import-linter contract in
pyproject.toml checks it).

- scan a pushed build's image (or reuse the SBOM of the identical image) and match it;
- assess it (the verdict under the team's rules);
- publish it, through the gate, which holds every publication rule (the owning team, a current
  passing verdict, the team's own repositories);
- what the policy will say about a recipe before it is built, and hadolint's findings on a
  Dockerfile, for the forms' previews;
- the secret patterns the build log masks;
- what the image page says of a published image's signature and attested verdict, of a verdict
  that is no longer current, and of a published image that stopped passing; re-evaluating on request;
- a security reviewer's queue for the home page (pending exceptions, published images now blocked);
- whether a published build's passing verdict is current, so an identical request can be answered by it.
"""
import io
import subprocess
from dataclasses import dataclass
from types import SimpleNamespace

from dockerfile_parse import DockerfileParser

from compliance.attestations.verification import build_signature_summary
from compliance.gate import GateClosed, image_publish
from compliance.policy.change import verdict_reevaluate_requested
from compliance.policy.currency import verdict_staleness
from compliance.policy.evaluation import data_max_age_days, verdict_evaluate
from compliance.policy.lint import dockerfile_lint
from compliance.policy.rules import rule_no_secrets_in_env, rule_runtime_privileges
from compliance.policy.ruleset import ruleset_for
from compliance.review_queue import ReviewQueue, review_queue
from compliance.sbom.secret_rules import RULES
from compliance.scans import image_scan, scan_reusable, scan_reuse
from compliance.selectors import verdict_standing
from compliance.vulndb.coverage import scan_coverage
from compliance.vulndb.matching import scan_match
from compliance.vulndb.store import database_version

__all__ = ["GateClosed", "ScanSummary", "Assessment", "build_scan", "build_assess", "build_publish",
           "checks_expected", "dockerfile_findings", "secret_token_patterns", "build_signature", "build_standing",
           "build_reevaluate", "ReviewQueue", "review_queue", "build_verdict_current"]


@dataclass(frozen=True)
class ScanSummary:
    """What the build log says about a scan: `error` is empty when the SBOM was recorded."""

    error: str = ""
    findings: int = 0
    packages: int = 0
    os_name: str = ""
    reused: bool = False  # the SBOM was copied from the earlier build (false: the layers were read)
    not_assessed: str = ""  # why the findings say nothing (no current data for an ecosystem), with the default max age


@dataclass(frozen=True)
class Assessment:
    passed: bool
    results: list[dict]
    not_assessed: str = ""


def build_scan(build, *, reuse_from=None) -> ScanSummary:
    """Record the SBOM of the build's pushed image (copied from `reuse_from`, a build of the same
    image digest, when given, and when its scan holds every fact today's rules read) and match it
    against today's vulnerability data."""
    reused = reuse_from is not None and scan_reusable(reuse_from)
    scan = scan_reuse(build=build, source=reuse_from) if reused else image_scan(build=build)
    if scan.status != scan.Status.DONE:
        return ScanSummary(error=scan.error or "the scan did not finish")
    findings = scan_match(scan)
    os_name = f"{scan.os_id} {scan.os_version}".strip()
    coverage = scan_coverage(scan, max_age_days=data_max_age_days(ruleset_for(build.team)))
    return ScanSummary(findings=len(findings), packages=scan.packages.count(), os_name=os_name, reused=reused,
                       not_assessed=coverage.reason)


def build_assess(build) -> Assessment:
    """Evaluate the team's rules on the build's scan and store the verdict."""
    verdict = verdict_evaluate(build=build)
    return Assessment(passed=verdict.passed, results=verdict.results, not_assessed=verdict.not_assessed)


def build_publish(build, *, actor) -> str:
    """The published reference, or GateClosed (policy) / PermissionDenied (not the owning team) /
    RegistryError (the registry could not copy)."""
    return image_publish(build=build, actor=actor)


def build_signature(build) -> dict | None:
    """The published image's signature and latest attested verdict, for its page (None: not signed)."""
    return build_signature_summary(build)


def build_standing(build) -> dict:
    """Whether the latest verdict is stale (and why), and since when a published image fails."""
    return verdict_standing(build)


def build_verdict_current(build) -> bool:
    """True when the build's latest verdict passed and an evaluation now would say the same without
    being run: the same policy version, the team's rule set, the vulnerability data it was matched
    against still the latest import, the data's coverage unchanged and every exception it leans on
    still approved. Anything else (even a new import that changes nothing) means: evaluate again."""
    latest = build.verdicts.order_by("-created", "-pk").first()
    return (latest is not None and latest.passed and latest.database_version == database_version()
            and not verdict_staleness(build, latest))


def build_reevaluate(build, *, actor):
    """Evaluate the build's verdict again now (PermissionDenied: not the team nor a reviewer)."""
    return verdict_reevaluate_requested(build=build, actor=actor)


def checks_expected(*, team, base, component_slugs: set[str], runtime: dict, dockerfile: str = "") -> list[tuple[str, str, str]]:
    """What the policy will say, as far as it can be known before the build (never the scan):
    (state, title, detail) rows, state pass, fail, warn or unknown; only the rules the team's
    images face. The runtime rule needs nothing from the image, so it is evaluated for real, and
    the ENV lines of the composed `dockerfile` go through the same secret rule as the image's."""
    checks = [
        ("pass" if base and base.approved else "fail", "Approved base image", base.name if base else "no base chosen"),
        ("pass" if "runtime-user" in component_slugs else "fail", "Non-root user",
         "runs as user app" if "runtime-user" in component_slugs else "tick 'Non-root runtime user' or the image is blocked"),
        _env_secrets_expected(dockerfile),
    ]
    if team is None:
        return checks
    ruleset = ruleset_for(team)
    kinds = {"Approved base image": "approved-base", "Non-root user": "non-root-user", "No secrets in ENV": "no-secrets-in-env"}
    shown = []
    for state, title, detail in checks:
        rule = ruleset.get(kinds[title])
        if rule is not None:
            shown.append(("warn" if state == "fail" and rule.action == "warn" else state, title, detail))
    rule = ruleset.get("runtime-privileges")
    if rule is not None and not rule.error:
        result = rule_runtime_privileges(runtime, **rule.params)
        state = "pass" if result.status == "pass" else ("warn" if rule.action == "warn" else "fail")
        shown.append((state, result.title, result.message))
    return shown


def _env_secrets_expected(dockerfile: str) -> tuple[str, str, str]:
    title = "No secrets in ENV"
    if not dockerfile:
        return "unknown", title, "checked on the built image"
    try:
        env = DockerfileParser(fileobj=io.BytesIO(dockerfile.encode())).envs
    except Exception:  # a Dockerfile the parser cannot read: hadolint's findings say why
        return "unknown", title, "checked on the built image"
    result = rule_no_secrets_in_env(SimpleNamespace(config={"config": {"Env": [f"{k}={v}" for k, v in env.items()]}}))
    if result.status == "pass":
        return "pass", title, "none in the Dockerfile's ENV lines (the base image's are checked on the built image)"
    return "fail", title, result.message


def dockerfile_findings(dockerfile: str) -> tuple[list[dict], str]:
    """hadolint's findings before the build, as the policy will see them, and "" or why hadolint
    could not run (the page then says so instead of showing no findings)."""
    try:
        return dockerfile_lint(dockerfile, timeout=10), ""
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        return [], f"hadolint could not run: {error}"


def secret_token_patterns() -> list:
    """The image secret scanner's token patterns (each with a `secret` group), for masking build logs.
    Private keys and password assignments are masked by the log's own line-aware rules instead."""
    return [rule.pattern for rule in RULES if rule.name not in ("private-key", "password-assignment")]
