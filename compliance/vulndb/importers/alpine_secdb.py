"""Read Alpine's secdb (`distroversion: v3.11`, `packages: [{pkg: {name, secfixes}}]`).

`secfixes` maps the apk version that fixed something to the ids it fixed. We turn it around
into one Advisory per vulnerability id (source "alpine-secdb") with one Affected per
(distroversion, origin package) in ecosystem `Alpine:v3.11`. The store keys on (source, id), so
pass every secdb file of an import in ONE call (a folder is walked): a CVE fixed in both v3.10
and v3.11 must come out as one Advisory with both releases, not as two that overwrite each other.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from compliance.vulndb.advisory import Advisory, Affected, Rejection, fixed_range, is_rfc3339

SOURCE = "alpine-secdb"
SUFFIXES = (".yaml", ".yml", ".json")

# apk version grammar: digits(.digits)* [letter] (_suffix[digits])* [-r digits]
APK_VERSION = re.compile(r"\d+(?:\.\d+)*[a-z]?(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*(?:-r\d+)?")
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
# Other trackers' ids that share a line with a CVE ("CVE-2016-6258 XSA-182") or stand alone.
_OTHER_ID = re.compile(r"(?:XSA-\d+|TALOS-\d{4}-\d+|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3})")
_COMMENT = re.compile(r"\(([^()]*)\)")
_DISTROVERSION = re.compile(r"v\d+\.\d+|edge")


def read_alpine_secdb(data: dict | str | os.PathLike, *, modified: str) -> Iterator[Advisory | Rejection]:
    """Advisories of secdb documents: a decoded dict, a YAML/JSON file, or a folder of them.

    secdb has no timestamps, so the caller says when it was fetched (`modified`).
    Rejections come first, as found; advisories follow once everything has been read.
    """
    if not is_rfc3339(modified):
        raise ValueError(f"modified must be an RFC 3339 date-time, got {modified!r}")
    advisories: dict[str, Advisory] = {}
    for origin, document in _documents(data):
        if isinstance(document, Rejection):
            yield document
            continue
        yield from _read_document(origin, document, advisories, modified)
    yield from advisories.values()


def _documents(data: dict | str | os.PathLike) -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        yield "<secdb>", data
        return
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES) \
        if path.is_dir() else [path]
    for file in files:
        try:
            text = file.read_bytes().decode("utf-8")
            # BaseLoader keeps every scalar a string: an unquoted `4.10:` key stays "4.10"
            # instead of becoming the float 4.1, and `0` stays "0".
            document = json.loads(text) if file.suffix.lower() == ".json" else yaml.load(
                text, Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError, RecursionError) as error:
            yield str(file), Rejection(str(file), None, "unreadable secdb file: " + " ".join(str(error).split()))
            continue
        yield str(file), document


def _read_document(origin: str, document: Any, advisories: dict[str, Advisory],
                   modified: str) -> Iterator[Rejection]:
    if not isinstance(document, dict) or not isinstance(document.get("packages"), list):
        yield Rejection(origin, None, "not a secdb document (no 'packages' list)")
        return
    distroversion = document.get("distroversion")
    if not isinstance(distroversion, str) or not _DISTROVERSION.fullmatch(distroversion):
        yield Rejection(origin, None, f"invalid distroversion {distroversion!r} (expected e.g. 'v3.11')")
        return
    for index, entry in enumerate(document["packages"]):
        package = entry.get("pkg") if isinstance(entry, dict) else None
        name = package.get("name") if isinstance(package, dict) else None
        secfixes = package.get("secfixes") if isinstance(package, dict) else None
        if not isinstance(name, str) or not name or not isinstance(secfixes, dict):
            yield Rejection(origin, None, f"packages[{index}]: needs pkg.name and a pkg.secfixes map")
            continue
        for version, fixes in secfixes.items():
            where = f"{name} {version}"
            if not isinstance(version, str) or not APK_VERSION.fullmatch(version):
                yield Rejection(origin, None, f"{where}: malformed apk version {version!r}")
                continue
            if not isinstance(fixes, list):
                yield Rejection(origin, None, f"{where}: expected a list of ids, got {fixes!r}"[:200])
                continue
            for line in fixes:
                ids, note, problem = _ids_of(line)
                if problem:
                    yield Rejection(origin, ids[0] if ids else None, f"{where}: {problem}")
                if version == "0":  # secdb's way of saying the package was never affected
                    continue
                for vuln_id in ids:
                    advisory = advisories.get(vuln_id)
                    if advisory is None:
                        advisory = advisories[vuln_id] = Advisory(id=vuln_id, modified=modified, source=SOURCE)
                    aliases = [other for other in ids if other != vuln_id and not _CVE.fullmatch(other)]
                    advisory.aliases.extend(a for a in aliases if a not in advisory.aliases)
                    _add_fix(advisory, f"Alpine:{distroversion}", name, version, note)


def _ids_of(line: Any) -> tuple[list[str], str, str | None]:
    """Ids in one secfixes line, its parenthesised comment, and what was wrong with it."""
    if not isinstance(line, str):
        return [], "", f"expected an id string, got {line!r}"
    note = "; ".join(part.strip() for part in _COMMENT.findall(line))
    tokens = _COMMENT.sub(" ", line).split()
    ids = [t for t in tokens if _CVE.fullmatch(t) or _OTHER_ID.fullmatch(t)]
    bad = [t for t in tokens if t not in ids]
    problem = f"malformed id {' '.join(bad)!r} in {line!r}" if bad else None
    if not tokens:
        problem = f"no id in {line!r}"
    return ids, note, problem


def _add_fix(advisory: Advisory, ecosystem: str, name: str, version: str, note: str) -> None:
    affected = next((a for a in advisory.affected if (a.ecosystem, a.name) == (ecosystem, name)), None)
    if affected is None:
        affected = Affected(ecosystem=ecosystem, name=name)
        advisory.affected.append(affected)
    # Listed under two fixed versions (a fix redone later): one range each, so a version
    # below either still matches. Conservative, and secdb gives nothing to choose by.
    if not any(r["events"][-1].get("fixed") == version for r in affected.ranges):
        affected.ranges.append(fixed_range(version))
    if note:
        affected.ecosystem_specific["note"] = note
