"""CVSS base scores from vectors, NVD ratings and the grading precedence."""
import pytest

from compliance.vulndb.severity import Severity, cvss_score, grade, severity_from_score

V31_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


@pytest.mark.parametrize("vector, score", [
    # base scores as published by FIRST's calculator and NVD
    (V31_CRITICAL, 9.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),  # the classic reflected XSS
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1),
    ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
    ("CVSS:3.1/AV:N/AC:L/PR:H/UI:R/S:C/C:L/I:L/A:N", 4.8),  # PR:H weighs 0.5 when scope changes
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 8.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C", 9.8),  # temporal ignored
    ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),
    ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0),
    ("AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3),
    ("(AV:L/AC:L/Au:N/C:C/I:C/A:C)", 7.2),
    ("AV:N/AC:L/Au:N/C:N/I:N/A:P", 5.0),
])
def test_it_computes_published_base_scores(vector, score):
    assert cvss_score(vector) == score


@pytest.mark.parametrize("vector", [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",  # A missing
    "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1",
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
    "high",
    "",
])
def test_it_gives_no_score_for_vectors_it_cannot_read(vector):
    assert cvss_score(vector) is None


@pytest.mark.parametrize("score, severity", [
    (None, Severity.UNKNOWN), (0.0, Severity.NEGLIGIBLE), (0.1, Severity.LOW), (3.9, Severity.LOW),
    (4.0, Severity.MEDIUM), (6.9, Severity.MEDIUM), (7.0, Severity.HIGH), (8.9, Severity.HIGH),
    (9.0, Severity.CRITICAL), (10.0, Severity.CRITICAL),
])
def test_it_rates_scores_like_nvd(score, severity):
    assert severity_from_score(score) is severity


def test_it_stops_v2_ratings_at_high():
    assert severity_from_score(10.0, cvss_version="2.0") is Severity.HIGH


def test_it_orders_severities_worst_last():
    assert Severity.UNKNOWN < Severity.NEGLIGIBLE < Severity.LOW < Severity.MEDIUM < Severity.HIGH < Severity.CRITICAL
    assert Severity.MEDIUM.label == "Medium"


CVSS_ENTRY = {"type": "CVSS_V3", "score": V31_CRITICAL}


@pytest.mark.parametrize("urgency, expected", [
    ("unimportant", Severity.NEGLIGIBLE), ("low", Severity.LOW), ("medium", Severity.MEDIUM),
    ("high", Severity.HIGH), ("high**", Severity.HIGH), (" Low* ", Severity.LOW),
])
def test_it_lets_the_debian_urgency_win(urgency, expected):
    result = grade(vendor_urgency=urgency, record_severity=[CVSS_ENTRY], database_specific={"severity": "CRITICAL"})

    assert result == (expected, "debian-urgency")


@pytest.mark.parametrize("urgency", ["not yet assigned", "end-of-life", None, ""])
def test_it_falls_through_urgencies_that_grade_nothing(urgency):
    result = grade(vendor_urgency=urgency, record_severity=[CVSS_ENTRY], database_specific={"severity": "MODERATE"})

    assert result == (Severity.MEDIUM, "record")


def test_it_reads_a_textual_severity_from_ubuntu_entries():
    result = grade(vendor_urgency=None, record_severity=[{"type": "Ubuntu", "score": "negligible"}, CVSS_ENTRY],
                   database_specific={})

    assert result == (Severity.NEGLIGIBLE, "record")


def test_it_falls_back_to_the_cvss_vector():
    assert grade(vendor_urgency="not yet assigned", record_severity=[CVSS_ENTRY],
                 database_specific={"severity": "whatever"}) == (Severity.CRITICAL, "cvss-v3.1:9.8")


def test_it_prefers_v3_over_v2_and_the_worst_v3_score():
    entries = [
        {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:C/I:C/A:C"},
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"},
        {"type": "CVSS_V3", "score": "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"},
        {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
    ]

    assert grade(vendor_urgency=None, record_severity=entries, database_specific={}) == (
        Severity.HIGH, "cvss-v3.0:7.8")


def test_it_grades_a_v2_only_record_on_the_v2_scale():
    entries = [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:C/I:C/A:C"}]

    assert grade(vendor_urgency=None, record_severity=entries, database_specific=None) == (
        Severity.HIGH, "cvss-v2.0:10.0")


def test_it_says_unknown_when_nothing_grades():
    entries = [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N"}, {"type": "CVSS_V3"}, "junk"]

    assert grade(vendor_urgency="end-of-life", record_severity=entries, database_specific={}) == (
        Severity.UNKNOWN, "unknown")
