"""Compliance policy: facts about an image -> a verdict with one reason per rule.

Pure: plain data in, plain data out (detect-secrets only touches a private temp file,
through `compliance.sbom.secrets`).
Messages are shown to the image's owners; evidence is stored, so it never holds a secret.
"""
from __future__ import annotations

import json
import operator
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

from compliance.policy.params import KIND_TITLES, PACKAGE_TYPE_ECOSYSTEM, version_constraint_parse
from compliance.sbom.accounts import runtime_user
from compliance.sbom.models import Account, ImageFacts
from compliance.sbom.python import canonical_name as pypi_canonical
from compliance.sbom.secrets import detect_secrets_scan
from compliance.vulndb.versions import InvalidVersion, comparator_for

Status = Literal["pass", "fail"]


@dataclass(frozen=True)
class RuleResult:
    """Outcome of one rule; `message` is the one line a user reads."""

    rule: str
    title: str
    status: Status
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """All rule results; the image may be published only when `passed`."""

    passed: bool
    results: list[RuleResult]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "results": [r.to_dict() for r in self.results]}


@dataclass(frozen=True)
class ApprovedBase:
    """A curated base image, identified by its layers (what an image is built on, not a name)."""

    reference: str
    layer_digests: list[str]


def policy_evaluate(*, facts: ImageFacts, approved_bases: list[ApprovedBase]) -> Verdict:
    """Run every rule; the verdict passes only when all of them pass."""
    results = [
        rule_approved_base(facts, approved_bases),
        rule_non_root_user(facts),
        rule_no_secrets_in_env(facts),
        rule_no_secrets_in_layers(facts),
    ]
    return Verdict(passed=all(r.status == "pass" for r in results), results=results)


# -- approved-base ---------------------------------------------------------------------
def rule_approved_base(facts: ImageFacts, approved_bases: list[ApprovedBase]) -> RuleResult:
    """The image's layers must START WITH all layers of an approved base: a FROM line can
    name anything, the layers are what the image really contains."""
    rule, title = "approved-base", "Approved base image"
    for base in _bases_under(facts, approved_bases):
        return RuleResult(rule, title, "pass", f"Built on the approved base {base.reference}.",
                          {"base": base.reference, "base_layers": len(base.layer_digests)})
    bottom = facts.layer_digests[0] if facts.layer_digests else None
    return RuleResult(rule, title, "fail",
                      "Not built on an approved base: its bottom layers match none of the "
                      f"{len(approved_bases)} approved base images. Rebuild it from a catalog base.",
                      {"bottom_layer": bottom, "checked": [b.reference for b in approved_bases]})


def _bases_under(facts: ImageFacts, approved_bases: list[ApprovedBase]) -> list[ApprovedBase]:
    """The approved bases whose layers the image's bottom layers are, in the given order."""
    # Bases may be recorded by manifest layer digests (compressed blobs) or by the config's
    # diff_ids (uncompressed, stable even when an engine re-compresses); accept either.
    candidates = (facts.layer_digests, facts.config.get("rootfs", {}).get("diff_ids") or [])
    return [base for base in approved_bases if base.layer_digests
            and any(list(c[:len(base.layer_digests)]) == list(base.layer_digests) for c in candidates)]


def approved_base_layers(facts: ImageFacts, approved_bases: list[ApprovedBase]) -> int:
    """How many bottom layers an approved base accounts for (the longest match: a custom base
    built on Debian covers its own layers too); 0 when none does, so that every layer counts."""
    return max((len(base.layer_digests) for base in _bases_under(facts, approved_bases)), default=0)


# -- non-root-user ---------------------------------------------------------------------
def rule_non_root_user(facts: ImageFacts) -> RuleResult:
    """config.User must resolve, through the image's own passwd, to a user that is not uid 0
    ("user", "uid", "user:group"; the group never makes a process root)."""
    rule, title = "non-root-user", "Non-root runtime user"
    user = str((facts.config.get("config") or {}).get("User") or "").strip()
    name = user.split(":", 1)[0]
    evidence: dict[str, Any] = {"user": user}
    if not name:
        return RuleResult(rule, title, "fail", "Runs as root: no USER is set. "
                          "Add the 'Non-root runtime user' option.", evidence)
    # Facts stored before accounts were read keep only name -> uid, which is all this rule needs.
    accounts = facts.privileges.accounts if facts.privileges is not None else \
        [Account(name=n, uid=u, gid=-1) for n, u in facts.passwd.items()]
    resolved = runtime_user(name, accounts, [])
    if resolved.uid is None:
        return RuleResult(rule, title, "fail", f"Cannot start: USER is '{user}' but {resolved.problem}. "
                          "Create the user or use a numeric uid.", evidence)
    uid = resolved.uid
    evidence["uid"] = uid
    if uid == 0:
        return RuleResult(rule, title, "fail", f"Runs as root: final USER is '{user}'. "
                          "Add the 'Non-root runtime user' option.", evidence)
    return RuleResult(rule, title, "pass", f"Runs as '{user}' (uid {uid}).", evidence)


# -- no-secrets-in-layers --------------------------------------------------------------
def rule_no_secrets_in_layers(facts: ImageFacts) -> RuleResult:
    """Secrets in any layer's files (a file deleted later is still in its layer blob, which
    anyone who can pull downloads), labels and build history. ENV has its own rule."""
    rule, title = "no-secrets-in-layers", "No secrets in files, labels or history"
    found = [s for s in facts.secrets if s.where != "env"]
    evidence: dict[str, Any] = {
        "findings": [{"where": s.where, "path": s.path, "layer": s.layer_index, "rule": s.rule,
                      "fingerprint": s.fingerprint, "deleted_in_later_layer": s.deleted_in_later_layer}
                     for s in found[:50]],
        "truncated_scan": facts.secrets_truncated,
    }
    if not found:
        note = " (the scan stopped at its file limit)" if facts.secrets_truncated else ""
        return RuleResult(rule, title, "pass", f"No secrets found in {facts.file_count} files{note}.", evidence)
    shown = "; ".join(
        f"{s.path} ({s.rule}, layer {s.layer_index}{', deleted later but still in its layer' if s.deleted_in_later_layer else ''})"
        for s in found[:3])
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return RuleResult(rule, title, "fail", f"{len(found)} secret{'s' if len(found) > 1 else ''} in the image: {shown}{more}. "
                      "Remove them from the build (deleting them in a later step does not help) and rotate them.", evidence)


# -- no-secrets-in-env -----------------------------------------------------------------
_CREDENTIAL_NAME = re.compile(
    r"(?:^|_)(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS)(?:_|$)", re.I)
# Values that cannot be a secret, whatever the name says: a path or an unexpanded variable
# (DB_PASSWORD_FILE=/run/secrets/db, TOKEN=${TOKEN}) and on/off flags (ENABLE_TOKEN_AUTH=true,
# which detect-secrets' keyword detector reports too).
_NOT_SECRET = re.compile(r"/\S*|\$\{[^}]*\}|\$[A-Za-z_]\w*|true|false|yes|no|on|off", re.I)
# Published checksums and signing-key fingerprints (PYTHON_SHA256, GPG_KEY in official
# images) are long hex strings by design: high entropy there is not a secret.
_PUBLIC_HASH_NAME = re.compile(
    r"(?:^|_)(?:SHA\d*(?:SUM)?|MD5(?:SUM)?|CHECKSUM|DIGEST|GPG|PGP|FINGERPRINT)(?:_|$)", re.I)
_ENTROPY_DETECTORS = {"Hex High Entropy String", "Base64 High Entropy String"}
# Every public IP (a proxy, a DNS server) would fail the rule; an address is not a credential.
_SKIPPED_PLUGINS = {"IPPublicDetector"}
_NO_SPACE = re.compile(r"\s")


def rule_no_secrets_in_env(facts: ImageFacts) -> RuleResult:
    """No credential may be baked into config.Env: anyone who can pull can read it."""
    rule, title = "no-secrets-in-env", "No secrets in environment"
    env = [_split_env(item) for item in (facts.config.get("config") or {}).get("Env") or []]
    candidates = [(name, value) for name, value in env if value and not _NOT_SECRET.fullmatch(value)]
    detectors = _detect_secrets(candidates)
    findings = []
    for index, (name, value) in enumerate(candidates):
        found = set(detectors.get(index, ()))
        if _PUBLIC_HASH_NAME.search(_words(name)):
            found -= _ENTROPY_DETECTORS
        if _CREDENTIAL_NAME.search(_words(name)):
            found.add("credential-like name")
        if found:
            findings.append({"variable": name, "detectors": sorted(found), "fingerprint": _mask(value)})
    if not findings:
        return RuleResult(rule, title, "pass", f"No secrets in the {len(env)} environment variables.", {})
    names = ", ".join(f["variable"] for f in findings)
    return RuleResult(rule, title, "fail", f"Secrets in the image environment ({names}): anyone who can "
                      "pull the image can read them. Pass them at run time instead.", {"findings": findings})


def _split_env(item: str) -> tuple[str, str]:
    name, _, value = item.partition("=")
    return name, value


def _words(name: str) -> str:
    # dbPassword and db-password are the same words as DB_PASSWORD.
    return re.sub(r"[-.]", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name))


def _mask(value: str) -> str:
    # Enough to recognise a value the owner knows; short values reveal only their length.
    return f"{value[:2]}…{len(value)}" if len(value) >= 12 else f"…{len(value)}"


def _detect_secrets(env: list[tuple[str, str]]) -> dict[int, set[str]]:
    """detect-secrets findings (detector names) per index of `env`: one line per variable
    (JSON escapes newlines), quoted because the entropy detectors only look inside quotes."""
    if not env:
        return {}
    plugins = [cls.__name__ for cls in get_mapping_from_secret_type_to_class().values()
               if cls.__name__ not in _SKIPPED_PLUGINS]
    # Whitespace in a name would shift line numbers; only values need to be exact.
    text = "".join(f"{_NO_SPACE.sub('_', name)}={json.dumps(value)}\n" for name, value in env)
    [detected] = detect_secrets_scan([("env", text)], plugins=plugins)
    found: dict[int, set[str]] = defaultdict(set)
    for secret in detected:
        found[secret.line - 1].add(secret.type)
    return found


# The rules that take their parameters from the policy data: banned packages and runtime privileges.
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}


def _names(package: dict) -> set[str]:
    """Names an entry may match: the package, and for OS packages its source package too
    (banning "openssl" means libssl3 as well)."""
    if package["type"] == "pypi":
        return {pypi_canonical(package["name"])}
    names = {package["name"]}
    if package["type"] in ("deb", "apk") and package.get("source_name"):
        names.add(package["source_name"])
    return names


def _entry_matches(entry: dict, package: dict) -> tuple[bool, bool]:
    """(matches, unordered): `unordered` when the installed version cannot be compared, which
    counts as a match: a banned package whose version we cannot read is not let through."""
    ecosystem = PACKAGE_TYPE_ECOSYSTEM.get(package["type"])
    if entry.get("ecosystem") and entry["ecosystem"] != ecosystem:
        return False, False
    wanted = pypi_canonical(entry["name"]) if ecosystem == "PyPI" else entry["name"]
    if wanted not in _names(package):
        return False, False
    if not entry.get("version"):
        return True, False
    if ecosystem is None:
        return True, True
    key = comparator_for(ecosystem)
    try:
        installed = key(package["version"])
        return all(_OPS[op](installed, key(version))
                   for op, version in version_constraint_parse(entry["version"])), False
    except InvalidVersion:
        return True, True


def rule_banned_packages(packages: list[dict], *, packages_banned: list[dict]) -> RuleResult:
    """Fail when an SBOM package matches a banned entry (name, optional ecosystem, optional
    version constraint compared with the ecosystem's own version ordering)."""
    rule, title = "banned-packages", KIND_TITLES["banned-packages"]
    by_name: dict[str, set[int]] = {}  # a fleet image has thousands of packages: look entries up by name
    for index, entry in enumerate(packages_banned):
        by_name.setdefault(entry["name"], set()).add(index)
        by_name.setdefault(pypi_canonical(entry["name"]), set()).add(index)
    matches = []
    for package in packages:
        candidates = sorted(set().union(*(by_name.get(name, set()) for name in _names(package))))
        for entry in (packages_banned[i] for i in candidates):
            hit, unordered = _entry_matches(entry, package)
            if hit:
                matches.append({"package": package["name"], "version": package["version"], "type": package["type"],
                                "layer": package.get("layer_index"), "banned": entry, "version_unordered": unordered})
                break
    evidence = {"matches": matches[:100], "entries": len(packages_banned)}
    if not matches:
        return RuleResult(rule, title, "pass", f"None of the {len(packages)} packages is banned "
                          f"({len(packages_banned)} entries checked).", evidence)
    shown = "; ".join(f"{m['package']} {m['version']} (layer {m['layer'] if m['layer'] is not None else '?'}, "
                      f"banned: {m['banned']['name']}{' ' + m['banned']['version'] if m['banned'].get('version') else ''})"
                      for m in matches[:5])
    more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
    return RuleResult(rule, title, "fail", f"{len(matches)} banned package{'s' if len(matches) > 1 else ''}: "
                      f"{shown}{more}. Remove them or move to an allowed version.", evidence)


def rule_runtime_privileges(runtime: dict, *, allow_privileged: bool, allowed_capabilities: list[str]) -> RuleResult:
    """Fail on privileged mode (unless allowed) or on added capabilities not in the allowed list."""
    rule, title = "runtime-privileges", KIND_TITLES["runtime-privileges"]
    privileged = bool(runtime.get("privileged"))
    added = sorted(runtime.get("cap_add") or [])
    extra = [c for c in added if c not in allowed_capabilities and "ALL" not in allowed_capabilities]
    evidence = {"privileged": privileged, "cap_add": added, "not_allowed": extra,
                "allowed_capabilities": list(allowed_capabilities), "allow_privileged": allow_privileged}
    problems = []
    if privileged and not allow_privileged:
        problems.append("runs privileged")
    if extra:
        problems.append(f"adds capabilities that are not allowed: {', '.join(extra)}")
    if problems:
        return RuleResult(rule, title, "fail", f"The recipe {' and '.join(problems)}. "
                          "Turn privileged mode off and drop those capabilities in the recipe.", evidence)
    note = f" (adds {', '.join(added)}, all allowed)" if added else ""
    return RuleResult(rule, title, "pass", f"Not privileged{note}." if not privileged
                      else f"Privileged, which this policy allows{note}.", evidence)
