"""Our findings and another scanner's, paired, with why a finding only one of them has is missing
from the other where the data says so (pure: plain data in, plain data out).

A pair is the same vulnerability on the same package:
- the vulnerability: any id the two findings share, among their own, their advisory's and its
  aliases (our OSV and Debian records are DEBIAN-CVE-..., PYSEC-... aliasing the CVE and GHSA ids
  the tools print);
- the package: first the same package name as its ecosystem compares names (PEP 503 for PyPI);
  then, for distro packages that are still unpaired, the same source package (a tool names the
  binary libssl3, our Debian records name the source openssl: one advisory hits every binary of it).

Each of the other tool's findings is one row, "both" when it pairs with one of ours (several of
ours may back it: a DSA and a DEBIAN-CVE record for one CVE), "other" when none does; each of our
findings no tool finding pairs with is an "ours" row. Whether an active exception covers a finding
is its status, on every row; as a reason it is given only for our own findings the data says
nothing else about (an exception explains why a finding does not count, not why a scanner missed it). The selector (selectors.py) loads the facts;
the reasons below are computed from them only, and "unknown" is said when they do not tell.
"""
from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from compliance.vulndb.names import package_name
from compliance.vulndb.osv_range import osv_affects_safe

GROUPS = {"both": "Found by both", "ours": "Only ours", "other": "Only the other tool"}
DISTRO_TYPES = ("deb", "apk", "rpm")
# The OSV ecosystem whose name rule applies to a package type (names.py); others compare as written.
_NAME_ECOSYSTEMS = {"pypi": "PyPI", "npm": "npm", "maven": "Maven", "golang": "Go", "gem": "RubyGems", "cargo": "crates.io"}

REASONS = {
    "severity-differs": "Severity differs",
    "not-in-sbom": "Package not in our SBOM",
    "other-version": "Our SBOM has another version of this package",
    "no-ecosystem": "Our matcher does not cover this package type",
    "no-advisory": "No advisory in our data",
    "other-package": "Our data names this vulnerability for other packages",
    "withdrawn": "Withdrawn in our data",
    "not-affected": "Our data says this version is not affected",
    "stale-match": "Our data says affected; our findings predate it",
    "no-shared-id": "Our advisory has no CVE or GHSA id to pair on",
    "tool-other-package": "The other tool reports it on other packages",
    "tool-other-vulnerabilities": "The other tool reports other vulnerabilities on this package",
    "excepted": "Excepted",
    "unknown": "Unknown",
}


@dataclass(frozen=True, kw_only=True)
class FindingFacts:
    """One finding as the comparison reads it."""

    id: int
    vulnerability_id: str
    advisory_id: str  # the advisory's own id (DEBIAN-CVE-..., GHSA-..., CVE-...)
    aliases: tuple[str, ...] = ()
    type: str
    name: str
    source_name: str = ""  # the distro source package, when known
    version: str  # the installed version the finding names
    package_version: str = ""
    severity: str
    fixed_version: str = ""
    layer_index: int | None = None  # None: a package made for the imported report
    # (OSV ecosystem, name, version) as our matcher would look the package up; None: no ecosystem
    coordinates: tuple[str, str, str] | None = None
    excepted: str = ""  # "exception N until YYYY-MM-DD" when an active exception covers it

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(i.upper() for i in (self.vulnerability_id, self.advisory_id, *self.aliases) if i)

    @property
    def name_key(self) -> tuple[str, str]:
        family = "os" if self.type in DISTRO_TYPES else self.type
        return family, package_name(_NAME_ECOSYSTEMS.get(self.type, self.type), self.name)

    @property
    def source_key(self) -> str:
        return self.source_name or self.name


@dataclass(frozen=True, kw_only=True)
class AdvisoryEntry:
    """One (ecosystem, package) one of our advisories names, with its ranges."""

    ecosystem: str
    name: str
    ranges: list = field(default_factory=list)
    versions: list = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class OurAdvisory:
    """An advisory of our own sources that names a vulnerability id the other tool reported."""

    osv_id: str
    aliases: tuple[str, ...] = ()
    withdrawn: datetime.datetime | None = None
    entries: tuple[AdvisoryEntry, ...] = ()

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(i.upper() for i in (self.osv_id, *self.aliases))


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """What the reasons read besides the findings."""

    sbom_names: frozenset[tuple[str, str]] = frozenset()  # name_key of every package our scan read
    sbom_versions: dict = field(default_factory=dict)  # name_key -> the versions our scan read of it
    advisories: tuple[OurAdvisory, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Row:
    group: str  # both, ours, other
    ours: FindingFacts | None = None  # for "both", the best of `backing`
    theirs: FindingFacts | None = None
    backing: tuple[FindingFacts, ...] = ()  # all of ours that pair with `theirs`
    reason: str = ""  # a REASONS key ("" for a pair that agrees)
    detail: str = ""

    @property
    def finding(self) -> FindingFacts:
        return self.theirs or self.ours

    @property
    def severity_differs(self) -> bool:
        return self.reason == "severity-differs"

    @property
    def status(self) -> str:
        """Open, or the exception that covers the finding (a status beside the reason, on every row)."""
        excepted = next((f.excepted for f in (self.ours, self.theirs) if f is not None and f.excepted), "")
        return f"Excepted: {excepted}" if excepted else "Open"

    @property
    def reason_label(self) -> str:
        return REASONS.get(self.reason, "")


@dataclass(frozen=True)
class Comparison:
    tool: str
    rows: list[Row]

    def counts(self) -> dict[str, int]:
        counted = dict.fromkeys(GROUPS, 0) | {"severity_differs": 0}
        for row in self.rows:
            counted[row.group] += 1
            counted["severity_differs"] += row.severity_differs
        return counted

    def reason_counts(self) -> dict[str, int]:
        counted = defaultdict(int)
        for row in self.rows:
            if row.reason:
                counted[row.reason] += 1
        return {reason: counted[reason] for reason in REASONS if counted[reason]}


def findings_pair(ours: list[FindingFacts], theirs: list[FindingFacts]) -> tuple[dict[int, list[FindingFacts]], set[int]]:
    """{their finding's id: our findings backing it} for the pairs, and the ids of our findings paired."""
    by_name, by_source = defaultdict(list), defaultdict(list)
    for finding in ours:
        for vid in finding.ids:
            by_name[(vid, finding.name_key)].append(finding)
            if finding.type in DISTRO_TYPES:
                by_source[(vid, finding.source_key)].append(finding)
    paired, unpaired, used = {}, [], set()
    for finding in theirs:
        backing = _unique(m for vid in finding.ids for m in by_name.get((vid, finding.name_key), ()))
        if backing:
            paired[finding.id] = backing
            used.update(m.id for m in backing)
        else:
            unpaired.append(finding)
    for finding in unpaired:  # a binary we did not pair by name: the same source package, ours still unpaired
        if finding.type in DISTRO_TYPES:
            backing = _unique(m for vid in finding.ids for m in by_source.get((vid, finding.source_key), ())
                              if m.id not in used)
            if backing:
                paired[finding.id] = backing
    used.update(m.id for backing in paired.values() for m in backing)
    return paired, used


def pair_counts(ours: list[FindingFacts], theirs: list[FindingFacts]) -> dict[str, int]:
    """The three groups' sizes and the pairs whose severities differ, without the reasons' evidence."""
    paired, used = findings_pair(ours, theirs)
    differs = sum(1 for t in theirs if t.id in paired and _both(t, paired[t.id], "").severity_differs)
    return {"both": len(paired), "ours": len(ours) - len(used), "other": len(theirs) - len(paired),
            "severity_differs": differs}


def unpaired_ids(ours: list[FindingFacts], theirs: list[FindingFacts]) -> set[str]:
    """The vulnerability ids of the other tool's unpaired findings: what the evidence must cover."""
    paired, _ = findings_pair(ours, theirs)
    return {i for t in theirs if t.id not in paired for i in (t.vulnerability_id, t.advisory_id, *t.aliases) if i}


def findings_compare(*, tool: str, ours: list[FindingFacts], theirs: list[FindingFacts], evidence: Evidence) -> Comparison:
    """Rows for every finding of both sides: pairs first, then each side's own, worst first."""
    paired, used = findings_pair(ours, theirs)
    rows = []
    for finding in theirs:
        if finding.id in paired:
            rows.append(_both(finding, paired[finding.id], tool))
        else:
            rows.append(Row(group="other", theirs=finding, **_other_reason(finding, evidence)))
    tool_ids = _tool_index(theirs)
    rows += [Row(group="ours", ours=f, **_ours_reason(f, tool_ids, tool)) for f in ours if f.id not in used]
    return Comparison(tool=tool, rows=sorted(rows, key=_row_order))


def _unique(findings) -> list[FindingFacts]:
    return list({f.id: f for f in findings}.values())


def _both(theirs: FindingFacts, backing: list[FindingFacts], tool: str) -> Row:
    # The one to show: the same version, then the same vulnerability id, then the worst.
    best = min(backing, key=lambda m: (m.version != theirs.version, m.vulnerability_id != theirs.vulnerability_id,
                                       _severity_rank(m.severity), m.id))
    if best.severity.lower() == theirs.severity.lower():
        return Row(group="both", ours=best, theirs=theirs, backing=tuple(backing))
    return Row(group="both", ours=best, theirs=theirs, backing=tuple(backing), reason="severity-differs",
               detail=f"ours {best.severity}, {tool.capitalize()} {theirs.severity}")


def _other_reason(finding: FindingFacts, evidence: Evidence) -> dict:
    """Why our scan has no finding of this: the first answer the data gives, in this order."""
    if finding.layer_index is None and finding.name_key not in evidence.sbom_names:
        return {"reason": "not-in-sbom", "detail": f"our scan read no package named {finding.name}"}
    if finding.layer_index is None:  # the report's own package: same name as one of ours, another version
        versions = ", ".join(sorted(evidence.sbom_versions.get(finding.name_key, ()))[:3])
        return {"reason": "other-version", "detail": f"our scan read {finding.name} {versions}; the report names {finding.version}"}
    if finding.coordinates is None:
        return {"reason": "no-ecosystem", "detail": f"no vulnerability data is matched for {finding.type} packages here"}
    ecosystem, name, version = finding.coordinates
    known = [a for a in evidence.advisories if a.ids & finding.ids]
    if not known:
        return {"reason": "no-advisory", "detail": "none of our sources names " + ", ".join(sorted(finding.ids))}
    entries = [(a, e) for a in known for e in a.entries if e.ecosystem == ecosystem and e.name == name]
    current = [(a, e) for a, e in entries if a.withdrawn is None]
    if entries and not current:
        advisory = entries[0][0]
        return {"reason": "withdrawn", "detail": f"{advisory.osv_id} withdrawn {advisory.withdrawn:%Y-%m-%d}"}
    if not entries:
        named = sorted({f"{e.ecosystem}/{e.name}" for a in known for e in a.entries})
        where = ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
        return {"reason": "other-package",
                "detail": f"{', '.join(sorted(a.osv_id for a in known)[:3])} names {where or 'no package'}, not {ecosystem}/{name}"}
    affected = [(a, e) for a, e in current
                if osv_affects_safe({"ranges": e.ranges, "versions": e.versions}, version, ecosystem)[0]]
    if affected:
        return {"reason": "stale-match", "detail": f"{affected[0][0].osv_id} affects {name} {version}: match the image again"}
    advisory, entry = current[0]
    return {"reason": "not-affected", "detail": f"{advisory.osv_id} for {name}: {_events(entry)}; installed {version}"}


def _events(entry: AdvisoryEntry) -> str:
    """The introduced/fixed/last_affected versions of an entry, as a person reads them."""
    parts = []
    for range_ in entry.ranges if isinstance(entry.ranges, list) else []:
        for event in (range_.get("events") or []) if isinstance(range_, dict) else []:
            if isinstance(event, dict):
                # Debian's tracker writes `fixed: 0` for a release the flaw never reached.
                parts += ["never affected in this release" if (kind, value) == ("fixed", "0")
                          else f"{kind.replace('_', ' ')} {value}" for kind, value in event.items()
                          if not (kind == "introduced" and value == "0")]
    if entry.versions:
        parts.append(f"{len(entry.versions)} listed versions")
    return ", ".join(parts[:6]) or "no affected versions"


def _tool_index(theirs: list[FindingFacts]) -> dict:
    index = {"by_id": defaultdict(set), "packages": set()}
    for finding in theirs:
        index["packages"].add(finding.name_key)
        for vid in finding.ids:
            index["by_id"][vid].add(finding.name)
    return index


def _ours_reason(finding: FindingFacts, tool_ids: dict, tool: str) -> dict:
    label = tool.capitalize()
    if not any(i.startswith(("CVE-", "GHSA-")) for i in finding.ids):
        return {"reason": "no-shared-id", "detail": f"{finding.advisory_id} names no CVE or GHSA id; {label} reports those"}
    elsewhere = sorted({name for vid in finding.ids for name in tool_ids["by_id"].get(vid, ())})
    if elsewhere:
        return {"reason": "tool-other-package", "detail": f"{label} reports it on {', '.join(elsewhere[:3])}"}
    if finding.excepted:
        return {"reason": "excepted", "detail": finding.excepted}
    if finding.name_key in tool_ids["packages"]:
        return {"reason": "tool-other-vulnerabilities", "detail": f"{label} reports {finding.name}, not this vulnerability"}
    return {"reason": "unknown", "detail": f"{label} reports nothing on {finding.name}"}


_SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")


def _severity_rank(severity: str) -> int:
    return _SEVERITIES.index(severity.lower()) if severity.lower() in _SEVERITIES else len(_SEVERITIES)


def _row_order(row: Row) -> tuple:
    finding = row.finding
    return (list(GROUPS).index(row.group), _severity_rank(finding.severity), finding.vulnerability_id, finding.name, finding.id)


def rows_filter(rows: list[Row], *, group: str = "", reason: str = "", q: str = "") -> list[Row]:
    """The rows under the page's, CSV's and API's filters (one function, so the three agree)."""
    q = q.lower()
    return [row for row in rows
            if (not group or row.group == group) and (not reason or row.reason == reason)
            and (not q or any(q in text.lower() for f in (row.ours, row.theirs) if f is not None
                              for text in (f.vulnerability_id, f.advisory_id, f.name, f.source_name)))]


def row_layer(row: Row) -> int | None:
    """The layer that added the row's package; None for a package our scan did not read."""
    return next((f.layer_index for f in (row.ours, row.theirs) if f is not None and f.layer_index is not None), None)


def row_origin(row: Row, base_layers: int) -> str:
    """base, added, or report-only (a package our scan did not read), from the row's package layer."""
    layer = row_layer(row)
    if layer is None:
        return "report-only"
    return "base" if layer < base_layers else "added"
