"""Advisories normalised to the shape of OSV, whatever feed they came from.

Plain data (no Django): importers yield these, the store saves `to_dict()` as JSON and the
matcher reads them back with `from_dict()`. Ranges stay OSV JSON dicts on purpose: the matcher
evaluates OSV events directly, and keeping them verbatim means nothing is lost in translation.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from compliance.vulndb.names import package_name

# RFC 3339 date-time as OSV writes it ("2023-11-07T20:24:23.946863Z"); an offset is accepted too.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})", re.IGNORECASE)


def is_rfc3339(value: Any) -> bool:
    """True for an RFC 3339 date-time string that names a real instant (no 2023-13-45)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper())  # Python 3.11 reads "Z" and any fraction length
    except ValueError:
        return False
    return True


@dataclass(kw_only=True)
class Affected:
    """One package in one ecosystem (e.g. source package `openssl` in `Debian:12`)."""

    ecosystem: str
    name: str
    ranges: list[dict[str, Any]] = field(default_factory=list)  # OSV range dicts, verbatim
    versions: list[str] = field(default_factory=list)
    ecosystem_specific: dict[str, Any] = field(default_factory=dict)
    database_specific: dict[str, Any] = field(default_factory=dict)
    # OSV allows a severity per package instead of per record; grading needs either.
    severity: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self):
        # Stored and looked up as the ecosystem's rule spells it: a record naming `PyYAML` is about
        # the installed `pyyaml` (compliance/vulndb/names.py).
        self.name = package_name(self.ecosystem, self.name)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Affected:
        return cls(
            ecosystem=data["ecosystem"],
            name=data["name"],
            ranges=list(data.get("ranges") or []),
            versions=list(data.get("versions") or []),
            ecosystem_specific=dict(data.get("ecosystem_specific") or {}),
            database_specific=dict(data.get("database_specific") or {}),
            severity=list(data.get("severity") or []),
        )


@dataclass(kw_only=True)
class Advisory:
    """One vulnerability record of one source; `(source, id)` identifies it in the store."""

    id: str
    modified: str  # RFC 3339
    published: str | None = None
    withdrawn: str | None = None  # kept so the store can retire a record it had imported
    aliases: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    summary: str = ""
    details: str = ""
    severity: list[dict[str, Any]] = field(default_factory=list)  # OSV {"type", "score"} entries
    affected: list[Affected] = field(default_factory=list)
    references: list[dict[str, Any]] = field(default_factory=list)
    source: str  # "osv", "debian-tracker", "debian-dsa", "debian-dla", "alpine-secdb"
    database_specific: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for a JSONField or a task result)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Advisory:
        """Inverse of `to_dict`; unknown keys are ignored so stored records survive additions."""
        return cls(
            id=data["id"],
            modified=data["modified"],
            published=data.get("published"),
            withdrawn=data.get("withdrawn"),
            aliases=list(data.get("aliases") or []),
            related=list(data.get("related") or []),
            summary=data.get("summary") or "",
            details=data.get("details") or "",
            severity=list(data.get("severity") or []),
            affected=[Affected.from_dict(a) for a in data.get("affected") or []],
            references=list(data.get("references") or []),
            source=data["source"],
            database_specific=dict(data.get("database_specific") or {}),
        )


@dataclass(frozen=True)
class Rejection:
    """Something an importer could not accept, with a reason an operator can act on.

    Importers yield these next to advisories instead of raising, so one bad record never
    stops an import of thousands.
    """

    origin: str  # file path, "archive.zip!member.json", "DSA.list:123", ...
    record_id: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rejection:
        return cls(origin=data["origin"], record_id=data.get("record_id"), reason=data["reason"])


def fixed_range(fixed: str | None) -> dict[str, Any]:
    """An ECOSYSTEM range affected from the start up to `fixed`; without `fixed`, unfixed."""
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed is not None:
        events.append({"fixed": fixed})
    return {"type": "ECOSYSTEM", "events": events}
