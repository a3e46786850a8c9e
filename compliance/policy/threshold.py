"""The severity-threshold rule: pure, on plain finding dicts (so previews and re-evaluation share it)."""
from compliance.policy.rules import RuleResult
from compliance.vulndb.severity import SEVERITY_ORDER


def rule_vulnerability_threshold(findings: list[dict], *, block: set[str], fixable_only: bool,
                                 waived: set[str] = frozenset(), counts: dict[str, int] | None = None) -> RuleResult:
    """Fail when a finding of a blocking severity (with a fix, if fixable_only) is not waived.
    `counts` (findings per severity), when given, are those of the whole scan: then `findings`
    need hold only those that can block (re-evaluation reads no others)."""
    blocking = [
        f for f in findings
        if f["severity"] in block and (f["fixed_version"] or not fixable_only) and f["vulnerability_id"] not in waived
    ]
    severities = "/".join(s for s in SEVERITY_ORDER if s in block)
    fix = " with a fix" if fixable_only else ""
    if counts is None:
        counts = {s: sum(1 for f in findings if f["severity"] == s) for s in SEVERITY_ORDER}
    else:
        counts = {s: counts.get(s, 0) for s in SEVERITY_ORDER}
    summary = " ".join(f"{n}{s[0]}" for s, n in counts.items() if n) or "none"
    if not blocking:
        return RuleResult(rule="vulnerability-threshold", title="Vulnerability threshold", status="pass",
                          message=f"No {severities} vulnerabilities{fix} (found: {summary}).",
                          evidence={"counts": counts, "block": sorted(block), "fixable_only": fixable_only})
    worst = sorted(blocking, key=lambda f: SEVERITY_ORDER.index(f["severity"]))[:10]
    listed = ", ".join(f"{f['vulnerability_id']} ({f['package']} {f['installed_version']} → {f['fixed_version'] or 'no fix'})" for f in worst)
    return RuleResult(rule="vulnerability-threshold", title="Vulnerability threshold", status="fail",
                      message=f"{len(blocking)} {severities} vulnerabilities{fix}: {listed}. Rebuild to pick up the fixes.",
                      evidence={"counts": counts, "blocking": [f["vulnerability_id"] for f in blocking][:100]})
