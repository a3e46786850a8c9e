"""read_debian_tracker: the tracker's JSON export turned into one advisory per CVE."""
import json

import pytest

from compliance.vulndb.advisory import Advisory, Rejection
from compliance.vulndb.importers.debian_tracker import read_debian_tracker

FETCHED = "2025-02-01T06:00:00Z"

EXPORT = {
    "libdemo": {
        "CVE-2024-1000": {
            "description": "Overflow in libdemo.",
            "scope": "remote",
            "debianbug": 1050001,
            "releases": {
                "bookworm": {"status": "resolved", "fixed_version": "1.2-3+deb12u1", "urgency": "medium",
                             "repositories": {"bookworm": "1.2-3+deb12u1"}},
                "bullseye": {"status": "open", "urgency": "low", "nodsa": "Minor issue",
                             "repositories": {"bullseye": "1.1-1"}},
                "buster": {"status": "undetermined", "urgency": "not yet assigned"},
                "trixie": {"status": "resolved", "fixed_version": "0", "urgency": "unimportant"},
                "sid": {"status": "resolved", "fixed_version": "1.2-4", "urgency": "medium"},
            },
        },
        "CVE-2024-1001": {
            "releases": {
                "bookworm": {"status": "open", "urgency": "unimportant"},
                "duke2": {"status": "open", "urgency": "low"},
            },
        },
    },
    "demo-tools": {
        "CVE-2024-1000": {
            "releases": {"bookworm": {"status": "resolved", "fixed_version": "4.0-1", "urgency": "high**"}},
        },
        "TEMP-0000000-ABCDEF": {
            "releases": {"forky": {"status": "resolved", "fixed_version": "0", "urgency": "low"}},
        },
    },
}


def _read(data=EXPORT):
    results = list(read_debian_tracker(data, modified=FETCHED))
    advisories = {r.id: r for r in results if isinstance(r, Advisory)}
    return advisories, [r for r in results if isinstance(r, Rejection)]


def _by_release(advisory):
    return {(a.ecosystem, a.name): a for a in advisory.affected}


def test_it_makes_one_advisory_per_cve_across_source_packages():
    advisories, _ = _read()

    advisory = advisories["CVE-2024-1000"]
    assert advisory.source == "debian-tracker"
    assert advisory.modified == FETCHED
    assert advisory.details == "Overflow in libdemo."
    assert advisory.database_specific == {"scope": "remote"}
    assert advisory.references == [
        {"type": "ADVISORY", "url": "https://security-tracker.debian.org/tracker/CVE-2024-1000"}]
    assert set(_by_release(advisory)) == {
        ("Debian:12", "libdemo"), ("Debian:11", "libdemo"), ("Debian:10", "libdemo"), ("Debian:12", "demo-tools")}


def test_it_turns_resolved_into_a_fixed_range_with_the_urgency():
    advisories, _ = _read()

    affected = _by_release(advisories["CVE-2024-1000"])[("Debian:12", "libdemo")]
    assert affected.ranges == [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2-3+deb12u1"}]}]
    assert affected.ecosystem_specific == {"status": "resolved", "urgency": "medium"}
    assert affected.database_specific == {"debianbug": 1050001}


def test_it_keeps_the_urgency_verbatim():
    advisories, _ = _read()

    affected = _by_release(advisories["CVE-2024-1000"])[("Debian:12", "demo-tools")]
    assert affected.ecosystem_specific["urgency"] == "high**"


def test_it_reports_open_and_undetermined_as_unfixed():
    advisories, _ = _read()
    releases = _by_release(advisories["CVE-2024-1000"])

    for key, status in [(("Debian:11", "libdemo"), "open"), (("Debian:10", "libdemo"), "undetermined")]:
        assert releases[key].ranges == [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
        assert releases[key].ecosystem_specific["status"] == status
    assert releases[("Debian:11", "libdemo")].ecosystem_specific["nodsa"] == "Minor issue"


def test_it_leaves_out_releases_never_affected_and_rolling_suites():
    advisories, _ = _read()

    ecosystems = {a.ecosystem for a in advisories["CVE-2024-1000"].affected}
    assert "Debian:13" not in ecosystems  # fixed_version "0"
    assert advisories["TEMP-0000000-ABCDEF"].affected == []  # kept: Debian looked and found nothing


def test_it_keeps_unimportant_open_issues():
    advisories, _ = _read()

    affected = _only(advisories["CVE-2024-1001"].affected)
    assert (affected.ecosystem, affected.ecosystem_specific["urgency"]) == ("Debian:12", "unimportant")


def test_it_reports_an_unknown_codename_once_with_a_count():
    _, rejections = _read()

    assert rejections == [Rejection("<tracker export>", None,
                                    "unknown release codename 'duke2': 1 entries skipped (first libdemo/CVE-2024-1001)")]


def test_it_rejects_malformed_entries_and_keeps_the_rest():
    export = {
        "pkg-a": {"CVE-2024-2000": {"releases": {
            "bookworm": {"status": "resolved", "urgency": "low"},
            "bullseye": {"status": "wontfix"},
            "buster": {"status": "resolved", "fixed_version": "2.0-1"},
        }}},
        "pkg-b": ["not", "an", "object"],
        "pkg-c": {"CVE-2024-2001": {"releases": "bookworm"}, "CVE-2024-2002": {"releases": []}},
    }

    advisories, rejections = _read(export)

    assert [r.reason for r in rejections] == [
        "pkg-a/CVE-2024-2000/bookworm: resolved without a fixed_version",
        "pkg-a/CVE-2024-2000/bullseye: unknown status 'wontfix' (expected resolved, open or undetermined)",
        "pkg-b: must be an object keyed by issue id",
        "pkg-c/CVE-2024-2001: 'releases' must be an object",
    ]
    assert [a.ecosystem for a in advisories["CVE-2024-2000"].affected] == ["Debian:10"]
    assert advisories["CVE-2024-2002"].affected == []


def test_it_reads_the_export_from_a_file(tmp_path):
    path = tmp_path / "tracker.json"
    path.write_text(json.dumps(EXPORT))

    advisories, _ = _read(path)

    assert set(advisories) == {"CVE-2024-1000", "CVE-2024-1001", "TEMP-0000000-ABCDEF"}


def test_it_rejects_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "tracker.json"
    path.write_text("<html>rate limited</html>")

    rejection = _only(read_debian_tracker(path, modified=FETCHED))

    assert rejection.origin == str(path)
    assert rejection.reason.startswith("not a JSON document")


def test_it_needs_a_real_timestamp_from_the_caller():
    with pytest.raises(ValueError):
        list(read_debian_tracker(EXPORT, modified="today"))


def _only(items):
    items = list(items)
    assert len(items) == 1, items
    return items[0]
