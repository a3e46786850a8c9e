"""The rules that take their parameters from the policy data: banned packages and runtime
privileges. Pure: plain data in, a RuleResult out.
"""
from __future__ import annotations

import operator

from compliance.sbom.python import canonical_name as pypi_canonical
from compliance.policy import RuleResult
from compliance.rule_params import KIND_TITLES, PACKAGE_TYPE_ECOSYSTEM, version_constraint_parse
from compliance.vulndb.versions import InvalidVersion, comparator_for

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
