"""Evaluating one OSV `affected[]` entry against a package version (OSV schema, "Evaluation")."""
import pytest

from compliance.vulndb.osv_range import (
    RangeNotEvaluable,
    fixed_versions,
    is_unfixed,
    osv_affects,
    osv_affects_safe,
    reopens_at_a_fix,
)
from compliance.vulndb.versions import InvalidVersion, UnsupportedEcosystem


def entry(*ranges, versions=None):
    affected = {"package": {"ecosystem": "test", "name": "pkg"}, "ranges": list(ranges)}
    if versions is not None:
        affected["versions"] = versions
    return affected


def ecosystem_range(*events, range_type="ECOSYSTEM"):
    return {"type": range_type, "events": [dict([event]) for event in events]}


FIXED_IN_1_2 = entry(ecosystem_range(("introduced", "0"), ("fixed", "1.2")))


@pytest.mark.parametrize("version, affected", [("0.1", True), ("1.1.9", True), ("1.2", False), ("1.2.0", False), ("2.0", False)])
def test_it_affects_everything_below_the_fix_when_introduced_at_zero(version, affected):
    assert osv_affects(FIXED_IN_1_2, version, "PyPI") is affected


@pytest.mark.parametrize("version, affected", [("0.9", False), ("1.0", True), ("1.5", True), ("2.0", False)])
def test_it_starts_the_range_at_the_introduced_version(version, affected):
    record = entry(ecosystem_range(("introduced", "1.0"), ("fixed", "2.0")))
    assert osv_affects(record, version, "PyPI") is affected


@pytest.mark.parametrize("version, affected", [("2.1.213", True), ("2.1.214", True), ("2.1.215", False)])
def test_it_includes_the_last_affected_version(version, affected):
    record = entry(ecosystem_range(("introduced", "0"), ("last_affected", "2.1.214")))
    assert osv_affects(record, version, "PyPI") is affected


@pytest.mark.parametrize("version, affected", [("0.5", True), ("1.9", True), ("2.0", False), ("3.0", False)])
def test_it_caps_the_range_at_the_limit(version, affected):
    record = entry(ecosystem_range(("introduced", "0"), ("limit", "2.0")))
    assert osv_affects(record, version, "PyPI") is affected


def test_it_keeps_a_version_below_any_of_several_limits():
    record = entry(ecosystem_range(("introduced", "0"), ("limit", "1.0"), ("limit", "3.0")))
    assert osv_affects(record, "2.0", "PyPI") is True
    assert osv_affects(record, "3.0", "PyPI") is False


def test_it_reads_a_star_limit_as_infinity():
    record = entry(ecosystem_range(("introduced", "1.0"), ("limit", "*")))
    assert osv_affects(record, "999", "PyPI") is True


def test_it_walks_several_introduced_fixed_pairs_in_one_range():
    record = entry(ecosystem_range(("introduced", "1.0"), ("fixed", "1.0.2"), ("introduced", "3.0"), ("fixed", "3.2.5")))
    verdicts = {v: osv_affects(record, v, "PyPI") for v in ["0.9", "1.0", "1.0.1", "1.0.2", "2.0", "3.0", "3.2.4", "3.2.5"]}
    assert verdicts == {
        "0.9": False, "1.0": True, "1.0.1": True, "1.0.2": False,
        "2.0": False, "3.0": True, "3.2.4": True, "3.2.5": False,
    }


def test_it_sorts_events_before_walking_them():
    record = entry(ecosystem_range(("fixed", "3.2.5"), ("introduced", "3.0"), ("fixed", "1.0.2"), ("introduced", "1.0")))
    assert [osv_affects(record, v, "PyPI") for v in ["1.0.1", "2.0", "3.1"]] == [True, False, True]


def test_it_unions_several_ranges():
    record = entry(
        ecosystem_range(("introduced", "1.0"), ("fixed", "1.1")),
        ecosystem_range(("introduced", "2.0"), ("fixed", "2.1")),
    )
    assert [osv_affects(record, v, "PyPI") for v in ["1.0.5", "1.5", "2.0.5", "2.1"]] == [True, False, True, False]


def test_a_version_fixed_in_one_line_and_introduced_in_another_is_affected_from_there():
    # PyPA's pyspark records (PYSEC-2022-236, PYSEC-2023-72) as they are, without their versions lists:
    # the fix of the 3.0 line (3.1.1) is where the 3.1 line starts being affected
    record = entry(ecosystem_range(("introduced", "0"), ("fixed", "3.1.1"), ("introduced", "3.2.0"), ("fixed", "3.2.2"),
                                   ("introduced", "3.1.1"), ("fixed", "3.1.3")))
    answers = {v: osv_affects(record, v, "PyPI") for v in ["3.0.3", "3.1.1", "3.1.2", "3.1.3", "3.2.0", "3.2.1", "3.2.2"]}
    assert answers == {"3.0.3": True, "3.1.1": True, "3.1.2": True, "3.1.3": False, "3.2.0": True, "3.2.1": True,
                       "3.2.2": False}
    record = entry(ecosystem_range(("introduced", "0"), ("fixed", "3.1.1"), ("introduced", "3.2.0"), ("fixed", "3.2.2"),
                                   ("introduced", "3.1.1"), ("fixed", "3.2.0")))
    assert [osv_affects(record, v, "PyPI") for v in ["3.1.0", "3.1.1", "3.1.3", "3.2.0", "3.2.1", "3.2.2"]] == [
        True, True, True, True, True, False]
    assert is_unfixed(record, "3.1.2", "PyPI") is False, "3.2.0 closes the 3.1 line"


def test_an_introduced_and_a_fixed_at_one_version_open_there_whatever_their_order():
    # The walk applies the closing event first, so the version is affected from there on; the record's
    # order of the two events does not matter
    for events in ((("introduced", "1.0"), ("fixed", "1.0")), (("fixed", "1.0"), ("introduced", "1.0"))):
        record = entry(ecosystem_range(*events))
        assert [osv_affects(record, v, "PyPI") for v in ["0.9", "1.0", "2.0"]] == [False, True, True]
    record = entry(ecosystem_range(("introduced", "0"), ("last_affected", "1.0"), ("introduced", "1.0"), ("fixed", "2.0")))
    assert [osv_affects(record, v, "PyPI") for v in ["1.0", "1.0.1", "2.0"]] == [True, True, False]


def test_it_matches_the_versions_list_alone():
    record = entry(versions=["1.0", "1.1"])
    assert osv_affects(record, "1.1", "PyPI") is True
    assert osv_affects(record, "1.0.0", "PyPI") is True  # PyPI equality, not string equality
    assert osv_affects(record, "1.2", "PyPI") is False


def test_it_ignores_git_ranges():
    git = {"type": "GIT", "repo": "https://example.invalid/repo.git", "events": [{"introduced": "0"}, {"fixed": "a" * 40}]}
    assert osv_affects_safe(entry(git), "1.0", "PyPI") == (False, [])
    assert fixed_versions(entry(git)) == []


def test_it_uses_the_git_ranges_sibling_ecosystem_range():
    git = {"type": "GIT", "repo": "https://example.invalid/repo.git", "events": [{"introduced": "0"}]}
    assert osv_affects(entry(git, ecosystem_range(("introduced", "0"), ("fixed", "2.0"))), "1.0", "PyPI") is True


def test_it_orders_semver_ranges_by_semver_whatever_the_ecosystem():
    record = entry(ecosystem_range(("introduced", "1.0.0-rc.1"), ("fixed", "1.0.1"), range_type="SEMVER"))
    assert osv_affects(record, "1.0.0", "npm") is True
    assert osv_affects(record, "1.0.0-beta.9", "npm") is False
    assert osv_affects(record, "1.0.0", "Maven") is True


def test_it_skips_a_semver_range_when_the_version_is_not_semver():
    record = entry(ecosystem_range(("introduced", "0"), ("fixed", "2.0.0"), range_type="SEMVER"))
    affected, warnings = osv_affects_safe(record, "1.0", "PyPI")
    assert affected is False
    assert "invalid semantic version '1.0'" in warnings[0]


def test_it_orders_debian_security_updates():
    record = entry(ecosystem_range(("introduced", "0"), ("fixed", "2.36-9+deb12u4")))
    assert osv_affects(record, "2.36-9+deb12u3", "Debian:12") is True
    assert osv_affects(record, "2.36-9+deb12u4", "Debian:12") is False
    assert osv_affects(record, "2.36-9+deb12u10", "Debian:12") is False
    assert osv_affects(record, "2.36~rc1-1", "Debian:12") is True


def test_it_orders_alpine_revisions():
    record = entry(ecosystem_range(("introduced", "0"), ("fixed", "3.1.4-r5")))
    assert osv_affects(record, "3.1.4-r4", "Alpine:v3.18") is True
    assert osv_affects(record, "3.1.4-r5", "Alpine:v3.18") is False
    assert osv_affects(record, "3.1.4_p1-r0", "Alpine:v3.18") is False


# --- unfixed and fixed versions ---------------------------------------------------------

def test_it_calls_an_open_ended_range_unfixed():
    record = entry(ecosystem_range(("introduced", "0")))
    assert osv_affects(record, "5.0", "PyPI") is True
    assert is_unfixed(record, "5.0", "PyPI") is True


def test_it_calls_a_version_below_a_fix_fixable():
    assert is_unfixed(FIXED_IN_1_2, "1.0", "PyPI") is False


def test_it_never_calls_an_unaffected_version_unfixed():
    assert is_unfixed(FIXED_IN_1_2, "1.3", "PyPI") is False


def test_it_calls_a_reintroduced_vulnerability_unfixed_only_after_the_last_fix():
    record = entry(ecosystem_range(("introduced", "0"), ("fixed", "1.0"), ("introduced", "2.0")))
    assert is_unfixed(record, "0.5", "PyPI") is False
    assert is_unfixed(record, "2.5", "PyPI") is True


def test_it_calls_a_last_affected_bound_unfixed():
    record = entry(ecosystem_range(("introduced", "0"), ("last_affected", "2.0")))
    assert is_unfixed(record, "1.0", "PyPI") is True


def test_it_treats_a_listed_version_as_fixable_when_any_range_has_a_fix():
    git = {"type": "GIT", "repo": "https://example.invalid/repo.git", "events": [{"introduced": "0"}, {"fixed": "b" * 40}]}
    assert is_unfixed(entry(git, versions=["1.0"]), "1.0", "PyPI") is False
    assert is_unfixed(entry(versions=["1.0"]), "1.0", "PyPI") is True


def test_it_lists_fixed_versions_once_in_record_order():
    record = entry(
        ecosystem_range(("introduced", "0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3")),
        ecosystem_range(("introduced", "0"), ("fixed", "1.2"), range_type="SEMVER"),
        ecosystem_range(("introduced", "0"), ("last_affected", "9.0")),
    )
    assert fixed_versions(record) == ["1.2", "2.3"]


# --- bad records and bad input ----------------------------------------------------------

MALFORMED_FIX = entry(ecosystem_range(("introduced", "0"), ("fixed", "0.12.5.-r0")))


def test_it_skips_a_range_with_a_malformed_version_and_says_so():
    affected, warnings = osv_affects_safe(MALFORMED_FIX, "0.12.4-r0", "Alpine:v3.18")
    assert affected is False
    assert len(warnings) == 1
    assert "range 0 (ECOSYSTEM) skipped" in warnings[0] and "0.12.5.-r0" in warnings[0]


def test_it_raises_in_strict_mode_when_a_skipped_range_could_change_the_answer():
    with pytest.raises(RangeNotEvaluable, match="0.12.5.-r0"):
        osv_affects(MALFORMED_FIX, "0.12.4-r0", "Alpine:v3.18")


def test_it_answers_affected_in_strict_mode_when_a_good_range_already_says_so():
    record = entry(MALFORMED_FIX["ranges"][0], ecosystem_range(("introduced", "0"), ("fixed", "0.12.5-r0")))
    assert osv_affects(record, "0.12.4-r0", "Alpine:v3.18") is True
    assert osv_affects_safe(record, "0.12.4-r0", "Alpine:v3.18")[0] is True


@pytest.mark.parametrize(
    "bad_range",
    [
        {"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1.0"}]},
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"patched": "1.0"}]},
        {"type": "ECOSYSTEM", "events": [{"introduced": 0}]},
        {"type": "ECOSYSTEM", "events": [{"fixed": "1.0"}]},
        {"type": "ECOSYSTEM", "events": "introduced 0"},
        {"type": "ECOSYSTEM"},
        {"type": "RPM", "events": [{"introduced": "0"}]},
        "not a range",
    ],
)
def test_it_never_crashes_on_a_malformed_range(bad_range):
    affected, warnings = osv_affects_safe(entry(bad_range), "1.0", "PyPI")
    assert affected is False
    assert len(warnings) == 1


def test_it_never_crashes_on_an_entry_that_is_not_an_object():
    assert osv_affects_safe(["not", "an", "entry"], "1.0", "PyPI")[0] is False


def test_it_raises_for_an_invalid_queried_version_in_strict_mode():
    with pytest.raises(InvalidVersion):
        osv_affects(FIXED_IN_1_2, "not a version", "PyPI")
    with pytest.raises(InvalidVersion):
        is_unfixed(FIXED_IN_1_2, "not a version", "PyPI")


def test_it_falls_back_to_the_exact_versions_list_for_a_version_it_cannot_order():
    record = entry(ecosystem_range(("introduced", "0")), versions=["weird_1"])
    assert osv_affects_safe(record, "weird_1", "Alpine:v3.18") == (True, [
        "ranges not evaluated: invalid Alpine version 'weird_1'",
    ])
    assert osv_affects_safe(record, "weird_2", "Alpine:v3.18")[0] is False


def test_it_falls_back_to_the_exact_versions_list_for_an_unknown_ecosystem():
    record = entry(ecosystem_range(("introduced", "0")), versions=["1.4.2"])
    assert osv_affects_safe(record, "1.4.2", "Go")[0] is True
    with pytest.raises(UnsupportedEcosystem):
        osv_affects(record, "1.4.2", "Go")


def test_it_tells_which_records_read_differently_since_closing_events_come_first():
    assert reopens_at_a_fix([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.1"}, {"introduced": "3.1.1"}]}])
    assert reopens_at_a_fix([{"type": "ECOSYSTEM", "events": [{"last_affected": "2"}, {"introduced": "2"}]}])
    assert not reopens_at_a_fix([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]},
                                 {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "2.0"}]}])
    assert not reopens_at_a_fix("garbage") and not reopens_at_a_fix([{"events": [{"introduced": "1", "fixed": "1"}]}])
