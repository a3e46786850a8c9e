"""The one door from builds into compliance: the few calls the build pipeline and the builds pages
need, and nothing else of compliance is imported by builds (an import-linter contract in
pyproject.toml checks it).

- scan a pushed build's image (or reuse the SBOM of the identical image) and match it;
- assess it (the verdict under the team's rules);
- publish it, through the gate, which holds every publication rule (the owning team, a current
  passing verdict, the team's own repositories);
- what the policy will say about a recipe (composed, or a team's own Dockerfile) before it is
  built, and hadolint's findings on a Dockerfile, for the forms' previews and confirmations;
- the secret patterns the build log masks;
- what the image page says of a published image's signature and attested verdict, of a verdict
  that is no longer current, and of a published image that stopped passing; re-evaluating on request;
- a security reviewer's queue for the home page (pending exceptions, published images now blocked);
- whether a published build's passing verdict is current, so an identical request can be answered by it.
"""
import subprocess
from dataclasses import dataclass

from builds.dockerfile.final_stage import FinalStage, RuntimeUser, final_stage_read
from compliance.attestations.verification import build_signature_summary
from compliance.gate import GateClosed, image_publish
from compliance.policy.change import verdict_reevaluate_requested
from compliance.policy.currency import verdict_staleness
from compliance.policy.evaluation import data_max_age_days, verdict_evaluate
from compliance.policy.expected import (
    ExpectedCheck,
    as_the_team_sees,
    env_secrets_expected,
    expected_failures,
    history_secrets_expected,
    lint_expected,
    runtime_user_expected,
)
from compliance.policy.lint import dockerfile_lint_cached
from compliance.policy.ruleset import ruleset_for
from compliance.review_queue import ReviewQueue, review_queue
from compliance.sbom.secret_rules import RULES
from compliance.scans import image_scan, scan_reusable, scan_reuse
from compliance.selectors import verdict_standing
from compliance.vulndb.coverage import scan_coverage
from compliance.vulndb.matching import scan_match
from compliance.vulndb.store import database_version

__all__ = ["GateClosed", "ScanSummary", "Assessment", "build_scan", "build_assess", "build_publish",
           "checks_expected", "dockerfile_checks_expected", "ExpectedCheck", "expected_failures", "dockerfile_findings", "secret_token_patterns", "build_signature", "build_standing",
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


def checks_expected(*, team, base, component_slugs: set[str], runtime: dict, dockerfile: str = "") -> list[ExpectedCheck]:
    """What the policy will say of a composed recipe, as far as it can be known before the build
    (never the scan): only the rules the team's images face (compliance.policy.expected). The
    non-root user is the builder's option; the ENV lines and the steps the history keeps are read
    from the composed `dockerfile` with the image rules' own secret detection."""
    final = _final_stage(dockerfile)
    checks = [
        ExpectedCheck("approved-base", "pass" if base and base.approved else "fail", "Approved base image",
                      base.name if base else "no base chosen"),
        ExpectedCheck("non-root-user", "pass" if "runtime-user" in component_slugs else "fail", "Non-root user",
                      "runs as user app" if "runtime-user" in component_slugs else "tick 'Non-root runtime user' or the image is blocked"),
        env_secrets_expected(final),
        history_secrets_expected(final),
    ]
    return as_the_team_sees(team, checks, runtime)


def dockerfile_checks_expected(*, team, base, dockerfile: str, build_args: dict, runtime: dict) -> list[ExpectedCheck]:
    """The same for a team's own Dockerfile, already resolved (every FROM an approved base; `base`
    the final stage's): its final USER, ENV and history steps, and hadolint's errors."""
    final = _final_stage(dockerfile, build_args)
    checks = [
        ExpectedCheck("approved-base", "pass", "Approved base image", f"every FROM is an approved base; the image starts from {base.name}"),
        runtime_user_expected(final.user if final else RuntimeUser(), base_name=base.name, base_user=_base_user(base)),
        env_secrets_expected(final),
        history_secrets_expected(final),
        lint_expected(dockerfile),
    ]
    return as_the_team_sees(team, checks, runtime)


def _final_stage(dockerfile: str, build_args: dict | None = None) -> FinalStage | None:
    if not dockerfile:
        return None
    try:
        return final_stage_read(dockerfile, build_args)
    except ValueError:  # a Dockerfile the parser cannot read: the resolver's and hadolint's findings say why
        return None


def _base_user(base) -> str:
    """The non-root user a custom base runs as, read from its source build's latest verdict ("" when
    the base is curated, or its image runs as root or was never judged)."""
    if base.source_build_id is None:
        return ""
    verdict = base.source_build.verdicts.order_by("-created", "-pk").first()
    result = next((r for r in (verdict.results if verdict else []) if r.get("rule") == "non-root-user"), None)
    if result is None or result.get("status") != "pass":
        return ""
    evidence = result.get("evidence") or {}
    return f"{evidence.get('user', '')} (uid {evidence.get('uid')})" if "uid" in evidence else str(evidence.get("user", ""))


def dockerfile_findings(dockerfile: str) -> tuple[list[dict], str]:
    """hadolint's findings before the build, as the policy will see them, and "" or why hadolint
    could not run (the page then says so instead of showing no findings)."""
    try:
        return dockerfile_lint_cached(dockerfile, timeout=10), ""  # the expected lint check then reads the cache
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        return [], f"hadolint could not run: {error}"


def secret_token_patterns() -> list:
    """The image secret scanner's token patterns (each with a `secret` group), for masking build logs.
    Private keys and password assignments are masked by the log's own line-aware rules instead."""
    return [rule.pattern for rule in RULES if rule.name not in ("private-key", "password-assignment")]
