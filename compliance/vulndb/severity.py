"""Severity grades and where each came from: a vendor's urgency, a record's label, or CVSS.

CVSS base scores are computed here from the vector (v3.0, v3.1 and v2, with the formulas and
weights of FIRST's specifications) rather than trusted from a feed: most OSV records carry only
the vector. CVSS v4 has no closed formula (its score is a lookup over macro-vectors), so a v4
vector yields no score and grading falls through to the next source.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    """Ordered so that `>=` reads "at least as bad". UNKNOWN is lowest: no rule of the form
    "fail at HIGH or above" fires on it, so a policy that cares must ask for it by name."""

    UNKNOWN = 0
    NEGLIGIBLE = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    CRITICAL = 5

    @property
    def label(self) -> str:
        return self.name.capitalize()


# Debian's urgency for one package in one release. "not yet assigned" and "end-of-life"
# grade nothing, so the record's own severity decides.
_DEBIAN_URGENCY = {"unimportant": Severity.NEGLIGIBLE, "low": Severity.LOW,
                   "medium": Severity.MEDIUM, "high": Severity.HIGH}
# Labels found in records: GHSA's database_specific.severity (MODERATE), OSV "Ubuntu" entries.
_LABELS = {"critical": Severity.CRITICAL, "high": Severity.HIGH, "important": Severity.HIGH,
           "moderate": Severity.MEDIUM, "medium": Severity.MEDIUM, "low": Severity.LOW,
           "negligible": Severity.NEGLIGIBLE, "unimportant": Severity.NEGLIGIBLE}

_V3_BASE = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "PR": {"N": 0.85, "L": 0.62, "H": 0.27},
    "UI": {"N": 0.85, "R": 0.62},
    "S": {"U": 0.0, "C": 0.0},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_V3_PR_SCOPE_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}
_V3_OTHER = {"E", "RL", "RC", "CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA"}
_V2_BASE = {
    "AV": {"L": 0.395, "A": 0.646, "N": 1.0},
    "AC": {"H": 0.35, "M": 0.61, "L": 0.71},
    "Au": {"M": 0.45, "S": 0.56, "N": 0.704},
    "C": {"N": 0.0, "P": 0.275, "C": 0.660},
    "I": {"N": 0.0, "P": 0.275, "C": 0.660},
    "A": {"N": 0.0, "P": 0.275, "C": 0.660},
}
_V2_OTHER = {"E", "RL", "RC", "CDP", "TD", "CR", "IR", "AR"}


def cvss_score(vector: str) -> float | None:
    """The base score of a CVSS v3.1, v3.0 or v2 vector; None when it cannot be read."""
    scored = _score(vector)
    return scored[1] if scored else None


def severity_from_score(score: float | None, *, cvss_version: str = "3") -> Severity:
    """NVD's rating scale: v3 0.1-3.9 Low, 4.0-6.9 Medium, 7.0-8.9 High, 9.0-10 Critical;
    v2 stops at High (7.0-10). A score of 0.0 (no impact at all) is Negligible."""
    if score is None:
        return Severity.UNKNOWN
    if score == 0:
        return Severity.NEGLIGIBLE
    if score < 4.0:
        return Severity.LOW
    if score < 7.0:
        return Severity.MEDIUM
    if score < 9.0 or cvss_version.startswith("2"):
        return Severity.HIGH
    return Severity.CRITICAL


def grade(*, vendor_urgency: str | None, record_severity: list[dict[str, Any]],
          database_specific: dict[str, Any] | None) -> tuple[Severity, str]:
    """A package's severity and its source: "debian-urgency", "record", "cvss-v3.1:9.8" or "unknown".

    The vendor's urgency for the package wins (the distribution knows how it builds and ships
    it), then a label the record gives, then the worst CVSS base score of the newest CVSS
    version the record carries.
    """
    urgency = (vendor_urgency or "").strip().rstrip("*").strip().lower()
    if urgency in _DEBIAN_URGENCY:
        return _DEBIAN_URGENCY[urgency], "debian-urgency"
    entries = [e for e in record_severity or [] if isinstance(e, dict) and isinstance(e.get("score"), str)]
    labels = [(database_specific or {}).get("severity")]
    labels += [e["score"] for e in entries if e.get("type") == "Ubuntu"]
    for label in labels:
        if isinstance(label, str) and label.strip().lower() in _LABELS:
            return _LABELS[label.strip().lower()], "record"
    scored = [s for s in (_score(e["score"]) for e in entries if e.get("type") != "Ubuntu") if s]
    if scored:
        version, score = max(scored, key=lambda s: (s[0].split(".")[0], s[1]))
        return severity_from_score(score, cvss_version=version), f"cvss-v{version}:{score:.1f}"
    return Severity.UNKNOWN, "unknown"


def _score(vector: str) -> tuple[str, float] | None:
    """(version, base score) of a vector, or None."""
    text = vector.strip() if isinstance(vector, str) else ""
    if text.startswith("CVSS:3.0/") or text.startswith("CVSS:3.1/"):
        metrics = _metrics(text[9:], _V3_BASE, _V3_OTHER)
        return (text[5:8], _v3_score(metrics, text[5:8])) if metrics else None
    if text.startswith("CVSS:2.0/"):
        text = text[9:]
    elif text.startswith("(") and text.endswith(")"):  # NVD's old "(AV:N/AC:L/...)"
        text = text[1:-1]
    if text.startswith("CVSS:"):
        return None  # v4 and anything newer
    metrics = _metrics(text, _V2_BASE, _V2_OTHER)
    return ("2.0", _v2_score(metrics)) if metrics else None


def _metrics(text: str, base: dict[str, dict[str, float]], other: set[str]) -> dict[str, str] | None:
    """The base metric values of "K:V/K:V/..."; None when one is missing, repeated or invalid."""
    values: dict[str, str] = {}
    for part in text.split("/"):
        key, colon, value = part.partition(":")
        if not colon or key in values or (key not in base and key not in other):
            return None
        if key in base and value not in base[key]:
            return None
        values[key] = value
    return values if all(key in values for key in base) else None


def _v3_score(m: dict[str, str], version: str) -> float:
    changed = m["S"] == "C"
    iss = 1 - (1 - _V3_BASE["C"][m["C"]]) * (1 - _V3_BASE["I"][m["I"]]) * (1 - _V3_BASE["A"][m["A"]])
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    privileges = (_V3_PR_SCOPE_CHANGED if changed else _V3_BASE["PR"])[m["PR"]]
    exploitability = (8.22 * _V3_BASE["AV"][m["AV"]] * _V3_BASE["AC"][m["AC"]]
                      * privileges * _V3_BASE["UI"][m["UI"]])
    if impact <= 0:
        return 0.0
    total = min(1.08 * (impact + exploitability) if changed else impact + exploitability, 10)
    return _roundup_v31(total) if version == "3.1" else math.ceil(total * 10) / 10


def _roundup_v31(value: float) -> float:
    """v3.1's Roundup: the smallest one-decimal number >= value, immune to float noise
    (v3.0's plain ceil turned 4.000000001 into 4.1)."""
    whole = round(value * 100_000)
    if whole % 10_000 == 0:
        return whole / 100_000
    return (math.floor(whole / 10_000) + 1) / 10


def _v2_score(m: dict[str, str]) -> float:
    impact = 10.41 * (1 - (1 - _V2_BASE["C"][m["C"]]) * (1 - _V2_BASE["I"][m["I"]])
                      * (1 - _V2_BASE["A"][m["A"]]))
    exploitability = 20 * _V2_BASE["AV"][m["AV"]] * _V2_BASE["AC"][m["AC"]] * _V2_BASE["Au"][m["Au"]]
    f_impact = 0 if impact == 0 else 1.176
    base = (0.6 * impact + 0.4 * exploitability - 1.5) * f_impact
    # round_to_1_decimal half up, on the decimal text so 4.35 does not become 4.3
    return float(Decimal(repr(base)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


# Worst first: the order pages list findings in and the threshold rule counts them.
SEVERITY_ORDER = ["Critical", "High", "Medium", "Low", "Negligible", "Unknown"]
