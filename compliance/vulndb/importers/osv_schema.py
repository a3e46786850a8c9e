"""Check an OSV record for what the portal relies on; everything else in a record passes through.

The importers reject a record with these "path: message" strings instead of crashing on it
later; the OSV JSON schema is wider than what matching needs, so only that part is enforced.
"""
from __future__ import annotations

import json

from compliance.vulndb.advisory import is_rfc3339

_EVENT_KEYS = ("introduced", "fixed", "last_affected", "limit")
_RANGE_TYPES = ("ECOSYSTEM", "SEMVER", "GIT")
# GIT ranges cannot be evaluated offline (the matcher uses the sibling ECOSYSTEM range or
# `versions`), so a GIT range without `introduced` is not worth rejecting a whole record for.
_EVALUABLE = ("ECOSYSTEM", "SEMVER")


def osv_problems(record: object) -> list[str]:
    """Why `record` cannot be used, as "path: message" strings; empty when it can."""
    if not isinstance(record, dict):
        return [f"record must be an object, got {_kind(record)}"]
    problems: list[str] = []
    _string(record, "id", "", problems, required=True)
    for key in ("modified", "published", "withdrawn"):
        value = record.get(key)
        if value is None:
            if key == "modified":
                problems.append("modified: required")
        elif not is_rfc3339(value):
            problems.append(f"{key}: must be an RFC 3339 date-time, got {_show(value)}")
    for key in ("summary", "details"):
        _string(record, key, "", problems)
    for key in ("aliases", "related"):
        _strings(record.get(key), key, problems)
    _object(record.get("database_specific"), "database_specific", problems)
    _severity(record.get("severity"), "severity", problems)
    references = record.get("references")
    if references is not None and not (isinstance(references, list)
                                       and all(isinstance(r, dict) for r in references)):
        problems.append("references: must be a list of objects")
    affected = record.get("affected")
    if affected is not None and not isinstance(affected, list):
        problems.append(f"affected: must be a list, got {_kind(affected)}")
    elif affected:
        for index, entry in enumerate(affected):
            _affected_problems(entry, f"affected[{index}]", problems)
    return problems


def _affected_problems(entry: object, where: str, problems: list[str]) -> None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be an object, got {_kind(entry)}")
        return
    package = entry.get("package")
    if not isinstance(package, dict):
        problems.append(f"{where}.package: required object with 'ecosystem' and 'name'")
    else:
        _string(package, "ecosystem", f"{where}.package", problems, required=True)
        _string(package, "name", f"{where}.package", problems, required=True)
    _strings(entry.get("versions"), f"{where}.versions", problems)
    _severity(entry.get("severity"), f"{where}.severity", problems)
    for key in ("ecosystem_specific", "database_specific"):
        _object(entry.get(key), f"{where}.{key}", problems)
    ranges = entry.get("ranges")
    if ranges is None:
        return
    if not isinstance(ranges, list):
        problems.append(f"{where}.ranges: must be a list, got {_kind(ranges)}")
        return
    for index, osv_range in enumerate(ranges):
        _range_problems(osv_range, f"{where}.ranges[{index}]", problems)


def _range_problems(osv_range: object, where: str, problems: list[str]) -> None:
    if not isinstance(osv_range, dict):
        problems.append(f"{where}: must be an object, got {_kind(osv_range)}")
        return
    range_type = osv_range.get("type")
    if range_type not in _RANGE_TYPES:
        problems.append(f"{where}.type: unknown range type {_show(range_type)} "
                        f"(expected ECOSYSTEM, SEMVER or GIT)")
    events = osv_range.get("events")
    if not isinstance(events, list) or not events:
        problems.append(f"{where}.events: must be a non-empty list, got {_show(events)}")
        return
    for index, event in enumerate(events):
        here = f"{where}.events[{index}]"
        if not isinstance(event, dict) or len(event) != 1:
            problems.append(f"{here}: must be an object with exactly one key, got {_show(event)}")
            continue
        (key, value), = event.items()
        if key not in _EVENT_KEYS:
            problems.append(f"{here}: unknown event {_show(key)} "
                            f"(expected introduced, fixed, last_affected or limit)")
        elif not isinstance(value, str) or not value:
            problems.append(f"{here}: {_show(key)} must be a non-empty string, got {_show(value)}")
    if range_type in _EVALUABLE and not any(isinstance(e, dict) and "introduced" in e for e in events):
        problems.append(f"{where}.events: needs an 'introduced' event")


def _string(mapping: dict, key: str, where: str, problems: list[str], *, required: bool = False) -> None:
    value = mapping.get(key)
    path = f"{where}.{key}" if where else key
    if value is None:
        if required:
            problems.append(f"{path}: required")
    elif not isinstance(value, str) or (required and not value.strip()):
        problems.append(f"{path}: must be a non-empty string, got {_show(value)}" if required
                        else f"{path}: must be a string, got {_show(value)}")


def _strings(value: object, where: str, problems: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        problems.append(f"{where}: must be a list of strings, got {_kind(value)}")
        return
    for index, item in enumerate(value):
        if not isinstance(item, str):
            # YAML reads an unquoted 1.10 as the number 1.1: say how to fix the feed.
            hint = " (quote it in YAML)" if isinstance(item, (int, float)) else ""
            problems.append(f"{where}[{index}]: must be a string, got {_show(item)}{hint}")


def _object(value: object, where: str, problems: list[str]) -> None:
    if value is not None and not isinstance(value, dict):
        problems.append(f"{where}: must be an object, got {_kind(value)}")


def _severity(value: object, where: str, problems: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        problems.append(f"{where}: must be a list, got {_kind(value)}")
        return
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            problems.append(f"{where}[{index}]: must be an object, got {_kind(entry)}")
            continue
        for key in ("type", "score"):
            _string(entry, key, f"{where}[{index}]", problems, required=True)


def _kind(value: object) -> str:
    """The JSON name of a value's type, as a feed author would say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "list", dict: "object"}.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value[:60])
    if isinstance(value, (int, float, bool)) or value is None:
        return f"{_kind(value)} {json.dumps(value)}" if value is not None else "null"
    return _kind(value)
