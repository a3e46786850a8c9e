"""The severity-threshold rule and the vulnerability-data rule: pure, on plain finding dicts and
coverage reasons (so previews and re-evaluation share them)."""
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
    if counts is None:
        counts = {s: sum(1 for f in findings if f["severity"] == s) for s in SEVERITY_ORDER}
    return threshold_result(**blocking_summary(blocking), counts=counts, block=block, fixable_only=fixable_only)


WORST_LISTED = 10  # blocking findings the message names, in blocking_order (worst first)
FIRST_KEPT = 100  # vulnerability ids of blocking findings the evidence keeps, in blocking_order


def blocking_order(finding: dict) -> tuple:
    """The order a verdict names blocking findings in: worst first, then by vulnerability id,
    package, installed and fixed version. It depends on what the findings say alone, not on the
    order they were written in (a re-evaluation rewrites findings under new ids), so one state of
    the findings gives one verdict whichever way it was reached; the database sorts the same way
    (`compliance.vulndb.reevaluation.blocking_summaries`, "C" collation: code point order)."""
    return (SEVERITY_ORDER.index(finding["severity"]), finding["vulnerability_id"], finding["package"],
            finding["installed_version"], finding["fixed_version"])


def blocking_summary(blocking: list[dict]) -> dict:
    """What the threshold's result says of the blocking findings: how many, the ids of the first
    FIRST_KEPT and the WORST_LISTED worst, in `blocking_order`."""
    ordered = sorted(blocking, key=blocking_order)
    return {"blocking": len(blocking), "first_ids": [f["vulnerability_id"] for f in ordered[:FIRST_KEPT]],
            "worst": ordered[:WORST_LISTED]}


def threshold_result(*, blocking: int, first_ids: list[str], worst: list[dict], counts: dict[str, int],
                     block: set[str], fixable_only: bool) -> RuleResult:
    """The threshold's result from the summary of the blocking findings (`blocking_summary`) and
    the scan's counts per severity. Re-evaluation asks the database for the summary alone."""
    severities = "/".join(s for s in SEVERITY_ORDER if s in block)
    fix = " with a fix" if fixable_only else ""
    counts = {s: counts.get(s, 0) for s in SEVERITY_ORDER}
    summary = " ".join(f"{n}{s[0]}" for s, n in counts.items() if n) or "none"
    if not blocking:
        return RuleResult(rule="vulnerability-threshold", title="Vulnerability threshold", status="pass",
                          message=f"No {severities} vulnerabilities{fix} (found: {summary}).",
                          evidence={"counts": counts, "block": sorted(block), "fixable_only": fixable_only})
    listed = ", ".join(f"{f['vulnerability_id']} ({f['package']} {f['installed_version']} → {f['fixed_version'] or 'no fix'})" for f in worst)
    return RuleResult(rule="vulnerability-threshold", title="Vulnerability threshold", status="fail",
                      message=f"{blocking} {severities} vulnerabilities{fix}: {listed}. Rebuild to pick up the fixes.",
                      evidence={"counts": counts, "blocking": first_ids})


def rule_vulnerability_data(*, reason: str, ecosystems: list[str], evidence: dict) -> RuleResult:
    """Fail when the image's vulnerabilities could not be assessed (`reason`, from
    compliance/vulndb/coverage.py): no data, or data too old, for an ecosystem of its packages."""
    title = "Vulnerability data is current"
    if reason:
        return RuleResult(rule="vulnerability-data", title=title, status="fail", message=f"Not assessed: {reason}.",
                          evidence=evidence)
    if not ecosystems:
        return RuleResult(rule="vulnerability-data", title=title, status="pass",
                          message="The image has no package that vulnerability data could name.", evidence=evidence)
    return RuleResult(rule="vulnerability-data", title=title, status="pass",
                      message=f"Current vulnerability data for {', '.join(ecosystems)}.", evidence=evidence)


def threshold_not_assessed(result: dict, reason: str) -> dict:
    """The threshold's result on an image that was not assessed: never a pass reading "found:
    none". Blocking findings still fail (what was found is real); otherwise the result says it
    was not assessed, without counts (which would read as "0 vulnerabilities")."""
    if not reason:
        return result
    if result["status"] in ("fail", "waived"):
        result["message"] += f" Not assessed beyond that: {reason}."
        result["evidence"]["not_assessed"] = reason
        return result
    evidence = {k: v for k, v in result["evidence"].items() if k != "counts"}
    return {**result, "status": "not_assessed", "message": f"Not assessed: {reason}.",
            "evidence": {**evidence, "not_assessed": reason}}
