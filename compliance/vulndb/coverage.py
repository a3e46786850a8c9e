"""No verdict without data: whether an image's vulnerabilities could be assessed at all.

Finding nothing means "no known vulnerability" only when there was data to find them in. An
image's packages are in ecosystems (`matching.coordinates`: Debian:12 for a bookworm deb, PyPI
for a wheel...); for each, an import must have brought vulnerability data (EcosystemData), and
recently enough (the vulnerability-data rule's max_age_days, VULNDB_MAX_AGE_DAYS by default). A
package no data source covers (a deb on Ubuntu, packages of an unidentified OS) cannot be assessed
either. An image without any package the scanner recognises has nothing to assess: it is assessed.

`coverage_judge` is pure; the functions below it read the database.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from compliance.models import EcosystemData, ImageScan, SbomPackage
from compliance.vulndb.matching import coordinates


@dataclass(frozen=True)
class Needs:
    """What an image's packages need: the ecosystems with data to match, and the package kinds
    no data source covers ("deb packages on ubuntu 22.04")."""

    ecosystems: frozenset[str] = field(default_factory=frozenset)
    unsupported: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Coverage:
    ecosystems: tuple[str, ...]
    missing: tuple[str, ...]  # no data ever imported
    stale: tuple[tuple[str, str], ...]  # (ecosystem, date of its newest import), older than allowed
    unsupported: tuple[str, ...]
    max_age_days: int

    @property
    def reason(self) -> str:
        """Why the image was not assessed, for a person; "" when it was."""
        parts = []
        if self.missing:
            parts.append(f"no vulnerability data for {', '.join(self.missing)} has been imported")
        if self.stale:
            dates = ", ".join(f"{ecosystem} (last imported {day})" for ecosystem, day in self.stale)
            parts.append(f"the vulnerability data for {dates} is older than {self.max_age_days} days")
        if self.unsupported:
            parts.append(f"no vulnerability data source covers {', '.join(self.unsupported)}")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"ecosystems": list(self.ecosystems), "missing": list(self.missing), "stale": [list(s) for s in self.stale],
                "unsupported": list(self.unsupported), "max_age_days": self.max_age_days}


def coverage_judge(needs: Needs, imported: dict[str, datetime], *, max_age_days: int, now: datetime) -> Coverage:
    """Pure: the image's needs against when each ecosystem's data was last imported."""
    oldest = now - timedelta(days=max_age_days)
    ecosystems = tuple(sorted(needs.ecosystems))
    missing = tuple(e for e in ecosystems if e not in imported)
    stale = tuple((e, f"{imported[e]:%Y-%m-%d}") for e in ecosystems if e in imported and imported[e] < oldest)
    return Coverage(ecosystems, missing, stale, tuple(sorted(needs.unsupported)), max_age_days)


def _unsupported_label(type_: str, os_id: str, os_version: str) -> str:
    where = f"{os_id} {os_version}".strip()
    return f"{type_} packages on {where}" if where else f"{type_} packages of an unidentified operating system"


def needs_of(rows) -> dict[int, Needs]:
    """(scan id, package type, os id, os version) rows -> each scan's Needs."""
    found: dict[int, tuple[set, set]] = {}
    for scan_id, type_, os_id, os_version in rows:
        ecosystems, unsupported = found.setdefault(scan_id, (set(), set()))
        # Only the type and the OS decide the ecosystem; the names and versions are placeholders.
        place = coordinates(os_id=os_id, os_version=os_version, type=type_, name="x", version="0", source_name="",
                            source_version="")
        if place is None:
            unsupported.add(_unsupported_label(type_, os_id, os_version))
        else:
            ecosystems.add(place[0])
    return {scan_id: Needs(frozenset(e), frozenset(u)) for scan_id, (e, u) in found.items()}


def scans_needs(scan_ids) -> dict[int, Needs]:
    """Each scan's Needs, in two queries (a scan without packages needs nothing): the package
    types of each scan, then the scans' OS, rather than a join per package."""
    scan_ids = list(scan_ids)
    types = SbomPackage.objects.filter(scan_id__in=scan_ids).order_by().values_list("scan_id", "type").distinct()
    systems = {pk: (os_id, os_version) for pk, os_id, os_version in ImageScan.objects.filter(pk__in=scan_ids)
               .values_list("pk", "os_id", "os_version")}
    return needs_of((scan_id, type_, *systems[scan_id]) for scan_id, type_ in types)


def imported_ecosystems() -> dict[str, datetime]:
    return dict(EcosystemData.objects.values_list("ecosystem", "imported_at"))


def scan_coverage(scan: ImageScan, *, max_age_days: int, imported: dict[str, datetime] | None = None,
                  needs: Needs | None = None, now: datetime | None = None) -> Coverage:
    """The scan's coverage today (`imported` and `needs` when the caller read them for many scans)."""
    if needs is None:
        needs = scans_needs([scan.pk]).get(scan.pk, Needs())
    return coverage_judge(needs, imported_ecosystems() if imported is None else imported, max_age_days=max_age_days,
                          now=now or timezone.now())


def ecosystems_confirmed(*, source: str, origin: str) -> int:
    """A feed unchanged since its last import (HTTP 304): the ecosystems that import brought are current now."""
    return EcosystemData.objects.filter(import_run__source=source, import_run__origin=origin).update(imported_at=timezone.now())


def ecosystems_imported(*, run, ecosystems: set[str]) -> None:
    """Record that a successful import brought data for these ecosystems now."""
    for ecosystem in sorted(e for e in ecosystems if e):
        EcosystemData.objects.update_or_create(ecosystem=ecosystem[:60], defaults={
            "source": run.source, "import_run": run, "imported_at": run.finished or timezone.now()})
