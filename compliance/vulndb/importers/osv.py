"""Read OSV records from a directory tree, a .zip or one file, in JSON or YAML.

osv.dev exports one zip of `<ID>.json` per ecosystem; the PyPA advisory database is a tree of
`<pkg>/PYSEC-*.yaml`. Every record is checked by `osv_problems` (only what the portal relies
on) and comes out as an Advisory or a Rejection: a bad record or an unreadable file never
stops the import.
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import yaml

from compliance.vulndb.advisory import Advisory, Affected, Rejection
from compliance.vulndb.importers.osv_schema import osv_problems

SUFFIXES = (".json", ".yaml", ".yml")
MAX_FILE_SIZE = 16 * 1024 * 1024  # the largest real OSV record is well under 1 MiB
MAX_DEPTH = 32  # a real record nests about 6 levels deep


class _YamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader minus timestamps: OSV dates are RFC 3339 *strings*, and PyYAML would
    turn an unquoted `modified: 2023-11-07T20:24:23Z` into a datetime (failing validation
    and losing the original spelling)."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _YamlLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def read_osv_source(path: str | os.PathLike, *, source: str = "osv") -> Iterator[Advisory | Rejection]:
    """Advisories and rejections of every `.json`/`.yaml`/`.yml` record under `path`.

    `path` is a directory (walked in name order, hidden folders such as `.git` skipped), a
    `.zip` (read in memory, never extracted) or a single file. A missing path raises
    FileNotFoundError: that is the caller's mistake, not the feed's.
    """
    path = Path(path)
    if path.is_dir():
        for file in _tree_files(path):
            yield from _file_records(file, source)
    elif not path.is_file():
        raise FileNotFoundError(path)
    elif path.suffix.lower() == ".zip":
        yield from _zip_records(path, source)
    else:
        yield from _file_records(path, source)


def osv_advisory(record: object, *, origin: str, source: str = "osv") -> Advisory | Rejection:
    """One decoded OSV record (a dict from JSON or YAML) as an Advisory, or why not."""
    record_id = record.get("id") if isinstance(record, dict) else None
    record_id = record_id if isinstance(record_id, str) else None
    problems = osv_problems(record)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return Rejection(origin, record_id, "; ".join(problems[:3]) + more)
    return Advisory(
        id=record["id"],
        modified=record["modified"],
        published=record.get("published"),
        withdrawn=record.get("withdrawn"),
        aliases=list(record.get("aliases") or []),
        related=list(record.get("related") or []),
        summary=record.get("summary") or "",
        details=record.get("details") or "",
        severity=list(record.get("severity") or []),
        affected=[_affected(a) for a in record.get("affected") or []],
        references=list(record.get("references") or []),
        source=source,
        database_specific=dict(record.get("database_specific") or {}),
    )


def _affected(entry: dict) -> Affected:
    return Affected(
        ecosystem=entry["package"]["ecosystem"],
        name=entry["package"]["name"],
        ranges=list(entry.get("ranges") or []),
        versions=list(entry.get("versions") or []),
        ecosystem_specific=dict(entry.get("ecosystem_specific") or {}),
        database_specific=dict(entry.get("database_specific") or {}),
        severity=list(entry.get("severity") or []),
    )


def _tree_files(root: Path) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            if name.lower().endswith(SUFFIXES):
                yield Path(folder, name)


def _file_records(file: Path, source: str) -> Iterator[Advisory | Rejection]:
    try:
        data = _read_capped(file.open("rb"))
    except OSError as error:
        yield Rejection(str(file), None, f"unreadable file: {error.strerror or error}")
        return
    yield from _records(str(file), file.suffix.lower(), data, source)


def _zip_records(path: Path, source: str) -> Iterator[Advisory | Rejection]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        yield Rejection(str(path), None, f"not a readable zip archive: {error}")
        return
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir() or not info.filename.lower().endswith(SUFFIXES):
                continue
            origin = f"{path}!{info.filename}"
            try:
                data = _read_capped(archive.open(info))
            except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as error:
                # RuntimeError: encrypted member; NotImplementedError: unknown compression
                yield Rejection(origin, None, f"unreadable zip member: {error}")
                continue
            yield from _records(origin, os.path.splitext(info.filename)[1].lower(), data, source)


def _not_plain_data(document: object) -> str | None:
    """Why a decoded document is not plain JSON data, which the store and matcher assume.

    YAML can build what JSON cannot: anchors and aliases (shared or even self-containing
    values, and "billion laughs" blow-ups once copied), sets and bytes (`!!set`, `!!binary`).
    Deep nesting is capped too, so nothing downstream hits the recursion limit.
    """
    seen: set[int] = set()
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (str, int, float, bool)) or value is None:
            continue
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if not isinstance(value, (dict, list)):
            return f"holds a {type(value).__name__}, which JSON cannot"
        if id(value) in seen:
            return "uses YAML anchors/aliases, which OSV records never need"
        seen.add(id(value))
        if isinstance(value, dict):
            if not all(isinstance(key, str) for key in value):
                return "has a non-string key"
            stack.extend((item, depth + 1) for item in value.values())
        else:
            stack.extend((item, depth + 1) for item in value)
    return None


def _read_capped(stream) -> bytes | None:
    """The stream's bytes, or None past MAX_FILE_SIZE (zip headers can lie about sizes)."""
    with stream:
        data = stream.read(MAX_FILE_SIZE + 1)
    return None if len(data) > MAX_FILE_SIZE else data


def _records(origin: str, suffix: str, data: bytes | None, source: str) -> Iterator[Advisory | Rejection]:
    if data is None:
        yield Rejection(origin, None, f"file larger than {MAX_FILE_SIZE} bytes")
        return
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        yield Rejection(origin, None, f"not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start}")
        return
    try:
        document = json.loads(text) if suffix == ".json" else yaml.load(text, Loader=_YamlLoader)
    except json.JSONDecodeError as error:
        yield Rejection(origin, None, f"invalid JSON: {error}")
        return
    except yaml.YAMLError as error:
        yield Rejection(origin, None, "invalid YAML: " + " ".join(str(error).split()))
        return
    except RecursionError:
        yield Rejection(origin, None, f"nested deeper than {MAX_DEPTH} levels")
        return
    problem = _not_plain_data(document)
    if problem:
        yield Rejection(origin, None, problem)
        return
    # A file usually holds one record; some tools write a list of them.
    if isinstance(document, list):
        for index, record in enumerate(document):
            yield osv_advisory(record, origin=f"{origin}[{index}]", source=source)
    else:
        yield osv_advisory(document, origin=origin, source=source)
