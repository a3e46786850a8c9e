"""Read the security tracker's DSA.list / DLA.list text (one block per Debian advisory).

    [29 Mar 2023] DSA-5380-1 xorg-server - security update
    	{CVE-2023-1393}
    	[bullseye] - xorg-server 2:1.20.11-1+deb11u6
    	[lenny] - vlc <not-affected> (Vulnerable code not present)
    	NOTE: fixed in testing at time of DSA

One Advisory per DSA/DLA id: aliases are the CVEs, one Affected per `[release] - source version`
line. A line we cannot read becomes a Rejection and the rest of its block is still used.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from typing import Any

from compliance.vulndb.advisory import Advisory, Affected, Rejection, fixed_range
from compliance.vulndb.importers.debian_tracker import DEBIAN_RELEASES, TRACKER_URL

_HEADER = re.compile(r"\[(?P<day>\d{1,2}) (?P<month>[A-Za-z]{3}) (?P<year>\d{4})\]\s+"
                     r"(?P<id>(?P<kind>[A-Z]+)-\d+(?:-\d+)?)(?:\s+(?P<title>.*?))?\s*")
_ALIASES = re.compile(r"\{(?P<ids>[^{}]*)\}")
_RELEASE = re.compile(r"\[(?P<release>[a-z-]+)\]\s+-\s+(?P<package>\S+)\s+(?P<what>\S+)"
                      r"(?:\s+\((?P<note>.*)\))?")
_NOTE = re.compile(r"NOTE:\s*(?P<text>.*)")
_SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9.+-]+")
# Debian policy: [epoch:]upstream[-revision], upstream starting with a digit.
_DPKG_VERSION = re.compile(r"(?:\d+:)?\d[A-Za-z0-9.+~:-]*")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
# Tags the lists put where a version goes. Not-affected releases get no Affected entry; the
# others stay affected with no fix (end-of-life: security support ended before a fix).
_NOT_AFFECTED = "<not-affected>"
_UNFIXED_TAGS = {"<unfixed>": "unfixed", "<end-of-life>": "end-of-life"}
_URGENCIES = {"unimportant", "low", "medium", "high"}


def read_debian_lists(text: str, kind: str = "DSA", *, origin: str | None = None) -> Iterator[Advisory | Rejection]:
    """Advisories of a DSA.list or DLA.list; `origin` names the file in rejections."""
    if kind not in ("DSA", "DLA"):
        raise ValueError(f"kind must be DSA or DLA, got {kind!r}")
    origin = origin or f"{kind}.list"
    current: Advisory | None = None
    skipping = False  # inside the block of a rejected header
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{origin}:{number}"
        if not line:
            continue
        if not raw[0].isspace() and line.startswith("["):
            if current is not None:
                yield current
            current, skipping = None, False
            header = _header(line, kind)
            if isinstance(header, str):
                yield Rejection(where, None, f"{header}; its block is skipped: {line[:80]!r}")
                skipping = True
            else:
                current = header
            continue
        if skipping:
            continue
        if current is None:
            yield Rejection(where, None, f"line outside an advisory: {line[:80]!r}")
            continue
        problem = _add_body_line(current, line)
        if problem:
            yield Rejection(where, current.id, f"{problem}: {line[:80]!r}")
    if current is not None:
        yield current


def _header(line: str, kind: str) -> Advisory | str:
    match = _HEADER.fullmatch(line)
    if not match:
        return "unreadable advisory header"
    if match["kind"] != kind:
        return f"expected a {kind} id, got {match['id']}"
    try:
        day = datetime.date(int(match["year"]), _MONTHS[match["month"].lower()], int(match["day"]))
    except (KeyError, ValueError):
        return f"invalid date {match['day']} {match['month']} {match['year']}"
    date = f"{day.isoformat()}T00:00:00Z"
    title = " ".join((match["title"] or "").split())
    # "pkg - title" names the source package; announcements ("jessie end-of-life") do not.
    package, dash, _ = title.partition(" - ")
    return Advisory(
        id=match["id"],
        modified=date,  # the lists keep no modification time; the issue date is all there is
        published=date,
        summary=title,
        references=[{"type": "ADVISORY", "url": TRACKER_URL + match["id"]}],
        source=f"debian-{kind.lower()}",
        database_specific={"package": package} if dash and " " not in package else {},
    )


def _add_body_line(advisory: Advisory, line: str) -> str | None:
    """Fold one body line into `advisory`; a reason when the line cannot be read."""
    if match := _ALIASES.fullmatch(line):
        for alias in match["ids"].split():
            if alias not in advisory.aliases:
                advisory.aliases.append(alias)
        return None
    if match := _NOTE.fullmatch(line):
        advisory.database_specific.setdefault("notes", []).append(match["text"])
        return None
    match = _RELEASE.fullmatch(line)
    if not match:
        return "unrecognised line"
    release, package, what, note = match["release"], match["package"], match["what"], match["note"]
    if release not in DEBIAN_RELEASES:
        return f"unknown release {release!r}"
    if not _SOURCE_NAME.fullmatch(package):
        return f"invalid source package name {package!r}"
    if what == _NOT_AFFECTED:
        advisory.database_specific.setdefault("not_affected", []).append(
            {"release": release, "package": package, "reason": note or ""})
        return None
    specific: dict[str, Any] = {}
    if what in _UNFIXED_TAGS:
        specific["status"] = _UNFIXED_TAGS[what]
        osv_range = fixed_range(None)
    elif what.startswith("<"):
        return f"unknown tag {what}"
    elif _DPKG_VERSION.fullmatch(what):
        osv_range = fixed_range(what)
    else:
        return f"invalid Debian version {what!r}"
    if note:
        # Old entries carry "(bug #322591; medium)": keep the text, lift the urgency out of it.
        specific["note"] = note
        urgency = [part.strip() for part in note.split(";") if part.strip() in _URGENCIES]
        if urgency:
            specific["urgency"] = urgency[0]
    advisory.affected.append(Affected(
        ecosystem=f"Debian:{DEBIAN_RELEASES[release]}", name=package,
        ranges=[osv_range], ecosystem_specific=specific))
    return None
