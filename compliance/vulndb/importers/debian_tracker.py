"""Read the Debian security tracker's JSON export: {source package: {issue id: {releases...}}}.

The export is keyed by package first; we turn it around into one Advisory per issue (CVE or
TEMP- id) with one Affected per (release, source package). Its `id` is the issue id itself,
with source "debian-tracker": the store keys on (source, id), so it cannot clash with an NVD
or osv.dev record of the same CVE, and the matcher can join Debian's per-release verdict to
other sources' records (and to DSA/DLA aliases) on the CVE id without an alias table.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compliance.vulndb.advisory import Advisory, Affected, Rejection, fixed_range, is_rfc3339

SOURCE = "debian-tracker"
TRACKER_URL = "https://security-tracker.debian.org/tracker/"

# Codename -> VERSION_ID of /etc/os-release, the suffix of the OSV ecosystem "Debian:<n>".
DEBIAN_RELEASES = {
    "buzz": "1.1", "rex": "1.2", "bo": "1.3", "hamm": "2.0", "slink": "2.1", "potato": "2.2",
    "woody": "3.0", "sarge": "3.1", "etch": "4", "lenny": "5", "squeeze": "6", "wheezy": "7",
    "jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12",
    "trixie": "13", "forky": "14", "duke": "15",
}
# Rolling suites have no VERSION_ID, so no image can be matched against them: skipped quietly.
ROLLING_SUITES = {"sid", "unstable", "experimental"}
# Optional release fields worth keeping: they say why Debian will not ship a fix.
_KEPT_RELEASE_FIELDS = ("nodsa", "nodsa_reason")


def read_debian_tracker(data: dict | str | os.PathLike, *, modified: str) -> Iterator[Advisory | Rejection]:
    """Advisories of a tracker export, given as the decoded dict or a path to the JSON file.

    The export carries no timestamps, so the caller says when it was fetched (`modified`).
    Rejections come first, as found; advisories follow once every package has been read.
    """
    if not is_rfc3339(modified):
        raise ValueError(f"modified must be an RFC 3339 date-time, got {modified!r}")
    origin = "<tracker export>"
    if not isinstance(data, dict):
        origin = str(data)
        try:
            data = json.loads(Path(data).read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            yield Rejection(origin, None, f"not a JSON document: {error}")
            return
        if not isinstance(data, dict):
            yield Rejection(origin, None, "top level must be an object keyed by source package")
            return

    advisories: dict[str, Advisory] = {}
    unknown_releases: Counter[str] = Counter()
    first_seen: dict[str, str] = {}
    for package, issues in data.items():
        if not isinstance(issues, dict):
            yield Rejection(origin, None, f"{package}: must be an object keyed by issue id")
            continue
        for issue_id, issue in issues.items():
            releases = issue.get("releases") if isinstance(issue, dict) else None
            if releases == []:  # how an issue with no release entry yet appears in export samples
                releases = {}
            if not isinstance(releases, dict):
                yield Rejection(origin, issue_id, f"{package}/{issue_id}: 'releases' must be an object")
                continue
            advisory = advisories.get(issue_id)
            if advisory is None:
                advisory = advisories[issue_id] = _advisory(issue_id, issue, modified)
            for codename, release in releases.items():
                if codename in ROLLING_SUITES:
                    continue
                if codename not in DEBIAN_RELEASES:
                    unknown_releases[codename] += 1
                    first_seen.setdefault(codename, f"{package}/{issue_id}")
                    continue
                result = _release_affected(package, codename, release, issue)
                if isinstance(result, str):
                    yield Rejection(origin, issue_id, f"{package}/{issue_id}/{codename}: {result}")
                elif result is not None:
                    advisory.affected.append(result)

    for codename, count in unknown_releases.items():
        yield Rejection(origin, None, f"unknown release codename {codename!r}: {count} entries skipped "
                                      f"(first {first_seen[codename]})")
    yield from advisories.values()


def _advisory(issue_id: str, issue: dict[str, Any], modified: str) -> Advisory:
    description = issue.get("description")
    scope = issue.get("scope")
    return Advisory(
        id=issue_id,
        modified=modified,
        details=description if isinstance(description, str) else "",
        references=[{"type": "ADVISORY", "url": TRACKER_URL + issue_id}],
        source=SOURCE,
        database_specific={"scope": scope} if isinstance(scope, str) else {},
    )


def _release_affected(package: str, codename: str, release: Any, issue: dict[str, Any]) -> Affected | str | None:
    """The Affected entry of one release, None when it was never affected, or why it is unusable."""
    if not isinstance(release, dict):
        return "must be an object"
    status = release.get("status")
    fixed = release.get("fixed_version")
    if status == "resolved":
        if not isinstance(fixed, str) or not fixed.strip():
            return "resolved without a fixed_version"
        if fixed == "0":  # the tracker's way of saying this release never had the flaw
            return None
        osv_range = fixed_range(fixed)
    elif status in ("open", "undetermined"):
        # Undetermined means nobody has checked yet: reported as affected (no fix), marked so
        # that policy can decide how much weight it gets.
        osv_range = fixed_range(None)
    else:
        return f"unknown status {status!r} (expected resolved, open or undetermined)"
    specific: dict[str, Any] = {"status": status}
    if isinstance(release.get("urgency"), str):
        specific["urgency"] = release["urgency"]  # verbatim, e.g. "high**"; grading normalises it
    specific.update({k: release[k] for k in _KEPT_RELEASE_FIELDS if release.get(k)})
    bug = issue.get("debianbug")
    return Affected(
        ecosystem=f"Debian:{DEBIAN_RELEASES[codename]}",
        name=package,
        ranges=[osv_range],
        ecosystem_specific=specific,
        database_specific={"debianbug": bug} if isinstance(bug, int) else {},
    )
