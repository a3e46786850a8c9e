"""read_alpine_secdb: secfixes maps turned into one advisory per vulnerability id."""
import json

import pytest

from compliance.vulndb.advisory import Advisory, Rejection
from compliance.vulndb.importers.alpine_secdb import read_alpine_secdb

FETCHED = "2020-06-01T00:00:00Z"

MAIN_V311 = """\
---
distroversion: v3.11
reponame: main
packages:
  - pkg:
      name: musl-demo
      secfixes:
        1.1.23-r2:
          - CVE-2019-0001
        1.1.20-r0:
          - CVE-2019-0002 CVE-2019-0003
        0:
          - CVE-2019-0009
  - pkg:
      name: xen-demo
      secfixes:
        4.12.1-r0:
          - CVE-2019-0004  XSA-300
          - XSA-301
          - CVE-2019-0005 (AoE - partially fixed)
        4.10.1-r0:
          - CVE-????-?????  XSA-302
        4.10:
          - CVE-2019-0006
  - pkg:
      name: broken-demo
      secfixes:
        0.12.5.-r0:
          - CVE-2019-0007
        10.2.22.r0:
          - CVE-2019-0007
        2.7.16-33:
          - CVE-2019-0007
        6.6.2p1-r0:
          - CVE-2019-0007
        1.0-r0:
          - CVE_2019-0008
"""

COMMUNITY_V310 = {
    "distroversion": "v3.10",
    "packages": [{"pkg": {"name": "musl-demo", "secfixes": {"1.1.22-r3": ["CVE-2019-0001"]}}}],
}


def _read(data):
    results = list(read_alpine_secdb(data, modified=FETCHED))
    return ({r.id: r for r in results if isinstance(r, Advisory)},
            [r for r in results if isinstance(r, Rejection)])


@pytest.fixture
def secdb(tmp_path):
    (tmp_path / "v3.11").mkdir()
    (tmp_path / "v3.11" / "main.yaml").write_text(MAIN_V311)
    (tmp_path / "v3.10").mkdir()
    (tmp_path / "v3.10" / "community.json").write_text(json.dumps(COMMUNITY_V310))
    return tmp_path


def test_it_makes_one_advisory_per_cve_across_releases(secdb):
    advisories, _ = _read(secdb)

    advisory = advisories["CVE-2019-0001"]
    assert (advisory.source, advisory.modified) == ("alpine-secdb", FETCHED)
    assert [(a.ecosystem, a.name, a.ranges) for a in advisory.affected] == [
        ("Alpine:v3.10", "musl-demo", [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.22-r3"}]}]),
        ("Alpine:v3.11", "musl-demo", [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.23-r2"}]}]),
    ]


def test_it_splits_several_ids_in_one_string(tmp_path):
    advisories, _ = _read(_file(tmp_path))

    for cve in ("CVE-2019-0002", "CVE-2019-0003"):
        assert advisories[cve].affected[0].ranges[0]["events"][1] == {"fixed": "1.1.20-r0"}
        assert advisories[cve].aliases == []


def test_it_keeps_other_trackers_ids_as_aliases_or_advisories(tmp_path):
    advisories, _ = _read(_file(tmp_path))

    assert advisories["CVE-2019-0004"].aliases == ["XSA-300"]
    assert advisories["XSA-301"].affected[0].name == "xen-demo"
    assert advisories["XSA-302"].affected[0].ranges[0]["events"][1] == {"fixed": "4.10.1-r0"}


def test_it_keeps_a_parenthesised_comment_as_a_note(tmp_path):
    advisories, _ = _read(_file(tmp_path))

    assert advisories["CVE-2019-0005"].affected[0].ecosystem_specific == {"note": "AoE - partially fixed"}


def test_it_skips_fixes_in_version_zero(tmp_path):
    advisories, _ = _read(_file(tmp_path))

    assert "CVE-2019-0009" not in advisories


def test_it_reads_unquoted_versions_as_written(tmp_path):
    advisories, _ = _read(_file(tmp_path))

    assert advisories["CVE-2019-0006"].affected[0].ranges[0]["events"][1] == {"fixed": "4.10"}


def test_it_rejects_malformed_versions_and_ids_with_the_reason(tmp_path):
    advisories, rejections = _read(_file(tmp_path))

    assert [r.reason for r in rejections] == [
        "xen-demo 4.10.1-r0: malformed id 'CVE-????-?????' in 'CVE-????-?????  XSA-302'",
        "broken-demo 0.12.5.-r0: malformed apk version '0.12.5.-r0'",
        "broken-demo 10.2.22.r0: malformed apk version '10.2.22.r0'",
        "broken-demo 2.7.16-33: malformed apk version '2.7.16-33'",
        "broken-demo 6.6.2p1-r0: malformed apk version '6.6.2p1-r0'",
        "broken-demo 1.0-r0: malformed id 'CVE_2019-0008' in 'CVE_2019-0008'",
    ]
    assert all(r.origin.endswith("main.yaml") for r in rejections)
    assert "CVE-2019-0007" not in advisories


def test_it_rejects_documents_it_cannot_use(tmp_path):
    (tmp_path / "a.yaml").write_text("distroversion: 3.11\npackages: []\n")
    (tmp_path / "b.yaml").write_text("packages: [unclosed\n")
    (tmp_path / "c.json").write_text('{"distroversion": "v3.11", "packages": [{"pkg": {"name": "x"}}]}')

    _, rejections = _read(tmp_path)

    reasons = [r.reason for r in rejections]
    assert reasons[0] == "invalid distroversion '3.11' (expected e.g. 'v3.11')"
    assert reasons[1].startswith("unreadable secdb file:")
    assert reasons[2] == "packages[0]: needs pkg.name and a pkg.secfixes map"


def test_it_accepts_a_decoded_document():
    advisories, rejections = _read(COMMUNITY_V310)

    assert rejections == []
    assert advisories["CVE-2019-0001"].affected[0].ecosystem == "Alpine:v3.10"


def test_it_needs_a_real_timestamp_from_the_caller():
    with pytest.raises(ValueError):
        list(read_alpine_secdb(COMMUNITY_V310, modified="2020-06-01"))


def _file(tmp_path):
    path = tmp_path / "main.yaml"
    path.write_text(MAIN_V311)
    return path
