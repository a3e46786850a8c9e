"""Policy rule kinds and their parameters. Pure: plain data in, plain data out (no ORM).

Admins write parameters as JSON in the admin and the API, so every kind has a cleaner that
accepts exactly its documented shape and says, per field, what is wrong. A cleaned value is
canonical (sorted, de-duplicated, normalised names), so two spellings of one rule hash alike."""
from __future__ import annotations

import re
from typing import Any

from builds.recipes.runtime import CapabilityError, capabilities_clean
from compliance.vulndb.severity import SEVERITY_ORDER
from compliance.vulndb.versions import InvalidVersion, comparator_for

# The order verdicts list results in. The data rule and the threshold stay last: re-evaluation
# after a database import appends fresh results of both to the carried-over others.
KIND_ORDER = [
    "approved-base", "non-root-user", "non-root-group", "no-root-accounts", "no-setuid-files", "no-file-capabilities",
    "no-world-writable", "no-onbuild", "no-secrets-in-env", "no-secrets-in-layers", "dockerfile-lint",
    "banned-packages", "runtime-privileges", "vulnerability-data", "vulnerability-threshold",
]

# The privilege rules read the built image (compliance/policy/privileges.py).
PRIVILEGE_KINDS = ["non-root-group", "no-root-accounts", "no-setuid-files", "no-file-capabilities",
                   "no-world-writable", "no-onbuild"]

KIND_TITLES = {
    "approved-base": "Approved base image",
    "non-root-user": "Non-root runtime user",
    "non-root-group": "Runtime group is not root",
    "no-root-accounts": "No uid or gid 0 accounts besides a locked root",
    "no-setuid-files": "No setuid or setgid files above the base",
    "no-file-capabilities": "No file capabilities above the base",
    "no-world-writable": "No world-writable system paths above the base",
    "no-onbuild": "No ONBUILD triggers",
    "no-secrets-in-env": "No secrets in environment",
    "no-secrets-in-layers": "No secrets in files, labels or history",
    "dockerfile-lint": "Dockerfile lint (hadolint)",
    "banned-packages": "No banned packages",
    "runtime-privileges": "No privileged mode or extra capabilities",
    "vulnerability-data": "Vulnerability data is current",
    "vulnerability-threshold": "Vulnerability threshold",
}

# Kinds whose rule takes no parameters at all.
PLAIN_KINDS = {"approved-base", "non-root-user", "no-secrets-in-env", "no-secrets-in-layers", "dockerfile-lint",
               *PRIVILEGE_KINDS}

# Ecosystems a banned-package entry may name: those whose versions the portal can order.
ECOSYSTEMS = ["Debian", "Alpine", "PyPI", "Maven", "npm"]

# SBOM package type -> the ecosystem whose ordering its versions follow.
PACKAGE_TYPE_ECOSYSTEM = {"deb": "Debian", "apk": "Alpine", "pypi": "PyPI", "maven": "Maven", "npm": "npm"}

MAX_BANNED = 500

MAX_DATA_AGE_DAYS = 3650  # a site may import rarely, but a verdict on ten-year-old data is no verdict

MAX_NAME = 214  # npm's limit, the longest of the ecosystems

_CLAUSE = re.compile(r"\s*(<=|>=|==|!=|<|>|=)\s*([^\s,<>=!]{1,100})\s*")

_NAME = re.compile(r"[A-Za-z0-9@][A-Za-z0-9@._+:/~-]*")


class RuleParamsError(ValueError):
    """Parameters that do not fit their kind; `errors` maps a field path to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def version_constraint_parse(text: str, ecosystem: str | None = None) -> list[tuple[str, str]]:
    """"<2.0" or ">=1.2, <1.4" -> [(op, version)]; with an ecosystem, each version must be one
    that ecosystem can order. Raises ValueError with a message for the user."""
    if not isinstance(text, str) or not text.strip() or len(text) > 300:
        raise ValueError("Give a constraint such as \"<2.0\" or \">=1.2, <1.4\".")
    clauses = []
    for part in text.split(","):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise ValueError(f"'{part.strip()[:40]}' is not a comparison: use <, <=, >, >=, == or != and a version.")
        op, version = match.groups()
        if ecosystem:
            try:
                comparator_for(ecosystem)(version)
            except InvalidVersion as error:
                raise ValueError(f"'{version}' is not a {ecosystem} version ({error}).") from None
        clauses.append(("==" if op == "=" else op, version))
    return clauses


def _banned_entry_clean(entry: Any, index: int) -> dict[str, str]:
    where = f"packages[{index}]"
    if not isinstance(entry, dict):
        raise RuleParamsError({where: "Each entry is an object: {\"name\": ..., \"ecosystem\": ..., \"version\": ...}."})
    extra = set(entry) - {"name", "ecosystem", "version"}
    if extra:
        raise RuleParamsError({where: f"Unknown keys {sorted(extra)[:5]}: only name, ecosystem and version."})
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not _NAME.fullmatch(name.strip()):
        raise RuleParamsError({f"{where}.name": "A package name: letters, digits and . _ + - : / ~ @ "
                                                f"(at most {MAX_NAME})."})
    clean = {"name": name.strip()}
    ecosystem = entry.get("ecosystem") or ""
    if ecosystem:
        if ecosystem not in ECOSYSTEMS:
            raise RuleParamsError({f"{where}.ecosystem": f"One of {', '.join(ECOSYSTEMS)} (or leave it out for any)."})
        clean["ecosystem"] = ecosystem
    version = entry.get("version") or ""
    if version:
        try:
            clauses = version_constraint_parse(version, ecosystem or None)
        except ValueError as error:
            raise RuleParamsError({f"{where}.version": str(error)}) from None
        clean["version"] = ", ".join(f"{op}{v}" for op, v in clauses)
    return clean


def _banned_clean(params: dict) -> dict:
    packages = params.get("packages")
    if not isinstance(packages, list) or not packages or len(packages) > MAX_BANNED:
        raise RuleParamsError({"packages": f"Give a list of 1 to {MAX_BANNED} entries such as "
                                           "{\"name\": \"telnet\"} or {\"name\": \"requests\", \"ecosystem\": "
                                           "\"PyPI\", \"version\": \"<2.0\"}."})
    entries = [_banned_entry_clean(entry, i) for i, entry in enumerate(packages)]
    unique = {tuple(sorted(e.items())): e for e in entries}
    return {"packages": sorted(unique.values(), key=lambda e: (e["name"], e.get("ecosystem", ""), e.get("version", "")))}


def _runtime_clean(params: dict) -> dict:
    allow = params.get("allow_privileged", False)
    if not isinstance(allow, bool):
        raise RuleParamsError({"allow_privileged": "true or false."})
    try:
        allowed = capabilities_clean(params.get("allowed_capabilities", []))
    except CapabilityError as error:
        raise RuleParamsError({"allowed_capabilities": str(error)})
    return {"allow_privileged": allow, "allowed_capabilities": allowed}


def _threshold_clean(params: dict) -> dict:
    severities = params.get("severities")
    if not isinstance(severities, list) or not severities or \
            any(not isinstance(s, str) or s not in SEVERITY_ORDER for s in severities):
        raise RuleParamsError({"severities": f"A non-empty list of {', '.join(SEVERITY_ORDER)}."})
    fixable_only = params.get("fixable_only", True)
    if not isinstance(fixable_only, bool):
        raise RuleParamsError({"fixable_only": "true or false."})
    return {"severities": [s for s in SEVERITY_ORDER if s in severities], "fixable_only": fixable_only}

def _data_clean(params: dict) -> dict:
    days = params.get("max_age_days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DATA_AGE_DAYS:
        raise RuleParamsError({"max_age_days": f"Whole days, 1 to {MAX_DATA_AGE_DAYS}: how old the newest import of an "
                                               "ecosystem's vulnerability data may be."})
    return {"max_age_days": days}


_CLEANERS = {
    "banned-packages": (_banned_clean, {"packages"}),
    "vulnerability-data": (_data_clean, {"max_age_days"}),
    "runtime-privileges": (_runtime_clean, {"allow_privileged", "allowed_capabilities"}),
    "vulnerability-threshold": (_threshold_clean, {"severities", "fixable_only"}),
}


def params_clean(kind: str, params: Any) -> dict:
    """The canonical parameters of a rule of `kind`, or RuleParamsError saying what is wrong."""
    if kind not in KIND_TITLES:
        raise RuleParamsError({"kind": f"Unknown rule kind {str(kind)[:40]!r}; one of {', '.join(KIND_ORDER)}."})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RuleParamsError({"params": "Give the parameters as a JSON object."})
    if kind in PLAIN_KINDS:
        if params:
            raise RuleParamsError({"params": f"The {kind} rule takes no parameters; leave it as {{}}."})
        return {}
    cleaner, allowed = _CLEANERS[kind]
    extra = set(params) - allowed
    if extra:
        raise RuleParamsError({"params": f"Unknown parameters {sorted(map(str, extra))[:5]}; "
                                         f"the {kind} rule takes {', '.join(sorted(allowed))}."})
    return cleaner(params)


def params_summary(kind: str, params: dict) -> str:
    """One line a team member reads instead of the JSON."""
    try:
        if kind == "vulnerability-threshold":
            fix = " that have a fix" if params["fixable_only"] else ", fixable or not"
            return f"Blocks {', '.join(params['severities'])} vulnerabilities{fix}."
        if kind == "banned-packages":
            names = [" ".join(filter(None, [e["name"], e.get("version"), f"({e['ecosystem']})" if e.get("ecosystem") else ""]))
                     for e in params["packages"]]
            more = f" and {len(names) - 10} more" if len(names) > 10 else ""
            return f"Banned: {'; '.join(names[:10])}{more}."
        if kind == "vulnerability-data":
            return (f"An image is not assessed without vulnerability data for each ecosystem of its packages "
                    f"imported in the last {params['max_age_days']} days.")
        if kind == "runtime-privileges":
            caps = ", ".join(params["allowed_capabilities"]) or "none"
            return f"Privileged mode {'allowed' if params['allow_privileged'] else 'not allowed'}; capabilities allowed: {caps}."
    except (KeyError, TypeError):
        return "Invalid parameters."
    return ""
