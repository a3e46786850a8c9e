"""Is a package version affected by one OSV `affected[]` entry? (OSV schema, "Evaluation").

A version is affected when it is listed in `versions` or falls into any range. A range is
walked in version order (`introduced: "0"` sorting before everything): `introduced` switches
"affected" on at >=, `fixed` switches it off at >=, `last_affected` switches it off at >.
When a range has `limit` events, versions at or above every limit are outside it (`"*"` is
infinity). `ECOSYSTEM` ranges use the ecosystem's ordering, `SEMVER` ranges SemVer whatever
the ecosystem; `GIT` ranges need a repository's commit graph, so they are left out here (their
answer is in the sibling ranges or the `versions` list).

Records are data from outside: one bad range must not stop a scan. A range we cannot evaluate
(a malformed version, an unknown event or range type) is skipped and described in a warning.
`osv_affects_safe` never raises: it returns the answer from what it could evaluate, with the
warnings; a queried version or ecosystem we cannot order leaves only the `versions` list (exact
strings). `osv_affects` is strict: it raises InvalidVersion / UnsupportedEcosystem for a bad
queried version or ecosystem, and `RangeNotEvaluable` when a skipped range could have changed
a "not affected" answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compliance.vulndb.versions import InvalidVersion, UnsupportedEcosystem, VersionKey, comparator_for
from compliance.vulndb.versions.semver import semver_key

__all__ = ["RangeNotEvaluable", "fixed_versions", "is_unfixed", "osv_affects", "osv_affects_safe", "reopens_at_a_fix"]

_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
# The specification walks the sorted events and leaves the order of events at one version open.
# Real records settle it: `fixed: X` with `introduced: X` is a fix in one line and the same version
# re-introducing it in another (PyPA's pyspark PYSEC-2022-236: 0..3.1.1, 3.1.1..3.1.3, 3.2.0..3.2.2
# lists 3.1.1 and 3.1.2 as affected). So a closing event is applied before an opening one at the
# same version: each `introduced` opens an interval that only a later version's event closes.
_WALK_ORDER = {"fixed": 0, "last_affected": 0, "introduced": 1}
# Wrapping every key as (1, key) lets `introduced: "0"` sort first as (0,) in any ecosystem.
_BEFORE_EVERYTHING = (0,)


class RangeNotEvaluable(ValueError):
    """A range of the record could not be evaluated, and the answer might depend on it."""


@dataclass(frozen=True)
class _RangeVerdict:
    contains: bool  # the version lies in the range
    fixed_above: bool  # a `fixed` event above the version closes the range


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _event(event: Any) -> tuple[str, str]:
    if not isinstance(event, dict) or len(event) != 1:
        raise RangeNotEvaluable(f"event {event!r} does not hold exactly one of {_EVENT_KINDS}")
    ((kind, version),) = event.items()
    if kind not in _EVENT_KINDS or not isinstance(version, str):
        raise RangeNotEvaluable(f"unknown event {event!r}")
    return kind, version


def _evaluate_range(events: Any, version: str, key: VersionKey) -> _RangeVerdict:
    """The OSV pseudo-code for one range; InvalidVersion or RangeNotEvaluable if we cannot."""
    if not isinstance(events, list):
        raise RangeNotEvaluable(f"events {events!r} is not a list")
    version_key = key(version)
    walk, limits = [], []
    for kind, text in map(_event, events):
        if kind == "limit":
            limits.append(None if "*" in text else key(text))
        elif kind == "introduced" and text == "0":
            walk.append((_BEFORE_EVERYTHING, _WALK_ORDER[kind], kind))
        else:
            walk.append(((1, key(text)), _WALK_ORDER[kind], kind))
    if not any(kind == "introduced" for _, _, kind in walk):
        raise RangeNotEvaluable("range has no introduced event")
    if limits and not any(limit is None or version_key < limit for limit in limits):
        return _RangeVerdict(contains=False, fixed_above=False)

    point = (1, version_key)
    contains = False
    for bound, _, kind in sorted(walk, key=lambda step: step[:2]):
        if kind == "introduced" and point >= bound:
            contains = True
        elif kind == "fixed" and point >= bound:
            contains = False
        elif kind == "last_affected" and point > bound:
            contains = False
    fixed_above = any(kind == "fixed" and bound > point for bound, _, kind in walk)
    return _RangeVerdict(contains=contains, fixed_above=fixed_above)


def _range_verdicts(affected: dict, version: str, ecosystem_key: VersionKey, warnings: list[str]):
    """Verdicts of the ranges we can evaluate; a warning for each one we cannot."""
    verdicts = []
    for index, osv_range in enumerate(_as_list(affected.get("ranges"))):
        range_type = osv_range.get("type") if isinstance(osv_range, dict) else None
        if range_type == "GIT":
            continue
        key = {"ECOSYSTEM": ecosystem_key, "SEMVER": semver_key}.get(range_type)
        try:
            if key is None:
                raise RangeNotEvaluable(f"unknown range type {range_type!r}")
            verdicts.append(_evaluate_range(osv_range.get("events"), version, key))
        except (InvalidVersion, RangeNotEvaluable) as error:
            warnings.append(f"range {index} ({range_type}) skipped: {error}")
    return verdicts


def _listed(affected: dict, version: str, ecosystem_key: VersionKey | None) -> bool:
    """In `versions`, by exact string or, when we can order versions, by ecosystem equality."""
    listed = [v for v in _as_list(affected.get("versions")) if isinstance(v, str)]
    if version in listed:
        return True
    if ecosystem_key is None:
        return False
    version_key = ecosystem_key(version)
    for candidate in listed:
        try:
            if ecosystem_key(candidate) == version_key:  # PyPI "1.0" is "1.0.0"
                return True
        except InvalidVersion:
            continue  # a bad entry in the list cannot equal a good version
    return False


@dataclass(frozen=True)
class _Evaluation:
    listed: bool
    verdicts: list[_RangeVerdict]
    warnings: list[str]

    @property
    def affected(self) -> bool:
        return self.listed or any(verdict.contains for verdict in self.verdicts)


def _evaluate(affected: Any, version: str, ecosystem: str) -> _Evaluation:
    if not isinstance(affected, dict):
        return _Evaluation(False, [], [f"affected entry {affected!r} is not an object"])
    try:
        ecosystem_key = comparator_for(ecosystem)
        ecosystem_key(version)
    except (InvalidVersion, UnsupportedEcosystem) as error:
        # The versions list needs no ordering: OSV keeps it for tools without one.
        return _Evaluation(_listed(affected, version, None), [], [f"ranges not evaluated: {error}"])
    warnings: list[str] = []
    verdicts = _range_verdicts(affected, version, ecosystem_key, warnings)
    return _Evaluation(_listed(affected, version, ecosystem_key), verdicts, warnings)


def osv_affects_safe(affected: dict, version: str, ecosystem: str) -> tuple[bool, list[str]]:
    """(affected?, warnings); never raises. With warnings, "not affected" may be wrong."""
    evaluation = _evaluate(affected, version, ecosystem)
    return evaluation.affected, evaluation.warnings


def osv_affects(affected: dict, version: str, ecosystem: str) -> bool:
    """Whether `version` of the package is affected by this OSV `affected[]` entry.

    Raises InvalidVersion / UnsupportedEcosystem for a bad `version` or `ecosystem`, and
    RangeNotEvaluable when the answer would be "not affected" but a range was skipped.
    """
    comparator_for(ecosystem)(version)
    evaluation = _evaluate(affected, version, ecosystem)
    if evaluation.warnings and not evaluation.affected:
        raise RangeNotEvaluable("; ".join(evaluation.warnings))
    return evaluation.affected


def _fixed_events(affected: Any, include_git: bool) -> list[str]:
    found: list[str] = []
    ranges = _as_list(affected.get("ranges")) if isinstance(affected, dict) else []
    for osv_range in ranges:
        if not isinstance(osv_range, dict) or (osv_range.get("type") == "GIT" and not include_git):
            continue
        for event in _as_list(osv_range.get("events")):
            fixed = event.get("fixed") if isinstance(event, dict) else None
            if isinstance(fixed, str) and fixed not in found:
                found.append(fixed)
    return found


def fixed_versions(affected: dict) -> list[str]:
    """Every `fixed` version of the entry's ECOSYSTEM and SEMVER ranges, once, in record order.

    GIT ranges are left out: their `fixed` values are commit hashes, not versions.
    """
    return _fixed_events(affected, include_git=False)


def is_unfixed(affected: dict, version: str, ecosystem: str) -> bool:
    """Affected, and the record names no fix for this version.

    A range that contains the version offers a fix when it has a `fixed` event above it (a
    `last_affected` bound names no fixed version). When ranges that contain the version
    disagree, one fix is enough: leaning towards "fixable" keeps a policy that tolerates
    unfixed vulnerabilities from tolerating one that has a fix. A version affected only
    through the `versions` list counts as fixed when any range, GIT included, has a `fixed`
    event: a fix exists even if we cannot place it. Skipped ranges are ignored here. Raises
    like `osv_affects` for a bad `version` or `ecosystem`.
    """
    comparator_for(ecosystem)(version)
    evaluation = _evaluate(affected, version, ecosystem)
    if not evaluation.affected:
        return False
    containing = [verdict for verdict in evaluation.verdicts if verdict.contains]
    if containing:
        return not any(verdict.fixed_above for verdict in containing)
    return not _fixed_events(affected, include_git=True)


def reopens_at_a_fix(ranges: Any) -> bool:
    """Whether a range holds an `introduced` and a closing event at one version: the records whose
    answer changed when closing events began to be applied first at a version (see _WALK_ORDER).
    Version strings are compared as written, which is how such records spell them."""
    for osv_range in _as_list(ranges):
        events = _as_list(osv_range.get("events")) if isinstance(osv_range, dict) else []
        pairs = [next(iter(event.items())) for event in events if isinstance(event, dict) and len(event) == 1]
        opened = {version for kind, version in pairs if kind == "introduced"}
        if opened & {version for kind, version in pairs if kind in ("fixed", "last_affected")}:
            return True
    return False
