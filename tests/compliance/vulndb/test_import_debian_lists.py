"""read_debian_lists: DSA.list and DLA.list blocks turned into advisories."""
import pytest

from compliance.vulndb.advisory import Advisory, Rejection
from compliance.vulndb.importers.debian_lists import read_debian_lists

DSA_LIST = """\
[29 Mar 2023] DSA-9001-1 libdemo - security update
\t{CVE-2023-1111 CVE-2023-2222}
\t[bullseye] - libdemo 2:1.20.11-1+deb11u6
\t[buster] - libdemo 1.0~rc1-2+deb10u1
[02 Jan 2009] DSA-9000-1 oldtool - several vulnerabilities
\t{ CVE-2008-0001 }
\t[etch] - oldtool 1.2-3etch1 (bug #322591; medium)
\t[lenny] - oldtool <not-affected> (Vulnerable code not present)
\t[sarge] - oldtool <end-of-life>
\t[woody] - oldtool <unfixed>
        NOTE: fixed in testing at time of DSA
[16 Jun 2007] DSA-8999 kernel-source - several
\t[sarge] - kernel-source 2.6.8-16sarge7
[18 Apr 2018] DSA-8998-1 jessie end-of-life
"""


def _advisories(text, kind="DSA"):
    return {r.id: r for r in read_debian_lists(text, kind) if isinstance(r, Advisory)}


def _rejections(text, kind="DSA"):
    return [r for r in read_debian_lists(text, kind) if isinstance(r, Rejection)]


def test_it_reads_one_advisory_per_block_with_cves_as_aliases():
    advisory = _advisories(DSA_LIST)["DSA-9001-1"]

    assert advisory.source == "debian-dsa"
    assert advisory.published == advisory.modified == "2023-03-29T00:00:00Z"
    assert advisory.summary == "libdemo - security update"
    assert advisory.aliases == ["CVE-2023-1111", "CVE-2023-2222"]
    assert advisory.database_specific == {"package": "libdemo"}
    assert [(a.ecosystem, a.name, a.ranges) for a in advisory.affected] == [
        ("Debian:11", "libdemo", [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2:1.20.11-1+deb11u6"}]}]),
        ("Debian:10", "libdemo", [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0~rc1-2+deb10u1"}]}]),
    ]


def test_it_handles_not_affected_unfixed_and_end_of_life_notes():
    advisory = _advisories(DSA_LIST)["DSA-9000-1"]

    releases = {a.ecosystem: a for a in advisory.affected}
    assert set(releases) == {"Debian:4", "Debian:3.1", "Debian:3.0"}  # lenny is not affected
    assert advisory.database_specific["not_affected"] == [
        {"release": "lenny", "package": "oldtool", "reason": "Vulnerable code not present"}]
    for ecosystem, status in [("Debian:3.1", "end-of-life"), ("Debian:3.0", "unfixed")]:
        assert releases[ecosystem].ranges == [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
        assert releases[ecosystem].ecosystem_specific == {"status": status}
    assert advisory.database_specific["notes"] == ["fixed in testing at time of DSA"]
    assert advisory.aliases == ["CVE-2008-0001"]


def test_it_lifts_the_urgency_out_of_old_notes():
    advisory = _advisories(DSA_LIST)["DSA-9000-1"]

    etch = next(a for a in advisory.affected if a.ecosystem == "Debian:4")
    assert etch.ecosystem_specific == {"note": "bug #322591; medium", "urgency": "medium"}


def test_it_reads_old_ids_and_announcements():
    advisories = _advisories(DSA_LIST)

    assert advisories["DSA-8999"].affected[0].name == "kernel-source"
    announcement = advisories["DSA-8998-1"]
    assert (announcement.summary, announcement.affected, announcement.database_specific) == (
        "jessie end-of-life", [], {})


def test_it_reads_dla_lists():
    text = "[01 Apr 2023] DLA-3380-1 firmware-nonfree - security update\n" \
           "\t{CVE-2020-12362}\n\t[buster] - firmware-nonfree 20190114+really20220913-0+deb10u1\n"

    advisory = _advisories(text, "DLA")["DLA-3380-1"]

    assert advisory.source == "debian-dla"
    assert advisory.affected[0].ranges[0]["events"][1] == {"fixed": "20190114+really20220913-0+deb10u1"}


def test_it_rejects_bad_body_lines_and_keeps_the_rest_of_the_block():
    text = """\
[05 May 2020] DSA-9100-1 pkg - security update
\t{CVE-2020-0001}
\t[bookworm] - pkg 1.0-1
\t[hurd] - pkg 1.0-1
\t[bookworm] - pkg kernel-image-2.4.17-ia64
\t[bookworm] - pkg <removed>
\t[bookworm] - Bad_Name 1.0-1
\tsomething else
"""
    rejections = _rejections(text)

    assert [(r.origin, r.record_id, r.reason.split(":")[0]) for r in rejections] == [
        ("DSA.list:4", "DSA-9100-1", "unknown release 'hurd'"),
        ("DSA.list:5", "DSA-9100-1", "invalid Debian version 'kernel-image-2.4.17-ia64'"),
        ("DSA.list:6", "DSA-9100-1", "unknown tag <removed>"),
        ("DSA.list:7", "DSA-9100-1", "invalid source package name 'Bad_Name'"),
        ("DSA.list:8", "DSA-9100-1", "unrecognised line"),
    ]
    assert len(_advisories(text)["DSA-9100-1"].affected) == 1


def test_it_rejects_a_bad_header_and_skips_its_block():
    text = """\
\t[bookworm] - orphan 1.0-1
[31 Feb 2020] DSA-9200-1 pkg - security update
\t[bookworm] - pkg 1.0-1
[01 Mar 2020] DLA-9201-1 pkg - wrong list
[1st March] DSA-9202-1 pkg
[02 Mar 2020] DSA-9203-1 good - security update
\t[bookworm] - good 1.0-1
"""
    rejections = _rejections(text)

    assert [r.reason.split(";")[0] for r in rejections] == [
        "line outside an advisory: '[bookworm] - orphan 1.0-1'",
        "invalid date 31 Feb 2020",
        "expected a DSA id, got DLA-9201-1",
        "unreadable advisory header",
    ]
    assert list(_advisories(text)) == ["DSA-9203-1"]


def test_it_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        list(read_debian_lists("", "USN"))
