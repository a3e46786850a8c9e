"""read_osv_source: OSV records from folders and zips, JSON and YAML, and every way they break."""
import json
import zipfile

import pytest

from compliance.vulndb.advisory import Advisory, Rejection
from compliance.vulndb.importers.osv import osv_advisory, read_osv_source

RECORD = {
    "id": "GHSA-aaaa-bbbb-cccc",
    "modified": "2024-05-01T10:00:00Z",
    "published": "2024-04-30T08:00:00.123456Z",
    "aliases": ["CVE-2024-0001"],
    "summary": "Path traversal in demo-lib",
    "details": "Long text.",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [{
        "package": {"ecosystem": "PyPI", "name": "demo-lib", "purl": "pkg:pypi/demo-lib"},
        "ranges": [
            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.4.2"}]},
            {"type": "GIT", "repo": "https://example.org/demo.git",
             "events": [{"introduced": "0"}, {"fixed": "a" * 40}]},
        ],
        "versions": ["1.0", "1.4.1"],
        "database_specific": {"source": "demo"},
    }],
    "references": [{"type": "FIX", "url": "https://example.org/fix"}],
    "database_specific": {"severity": "HIGH"},
}

# PyPA style: unquoted timestamps that a plain safe_load would turn into datetimes.
YAML_RECORD = """\
id: PYSEC-2024-1
modified: 2024-06-02T12:30:45.5Z
published: 2024-06-01T00:00:00Z
withdrawn: 2024-06-03T00:00:00Z
aliases:
- CVE-2024-9999
details: Withdrawn as a duplicate.
affected:
- package:
    ecosystem: PyPI
    name: other-lib
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: "0"
    - last_affected: "2.0"
  versions:
  - "1.10"
  - 2.0.1
"""


def _only(items):
    items = list(items)
    assert len(items) == 1, items
    return items[0]


def _reason(record):
    result = osv_advisory(record, origin="test.json")
    assert isinstance(result, Rejection), result
    return result.reason


def _with(path, value):
    """RECORD with one nested field replaced; path is a list of keys and indexes."""
    record = json.loads(json.dumps(RECORD))
    target = record
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


def test_it_reads_a_json_record_from_a_folder(tmp_path):
    (tmp_path / "GHSA-aaaa-bbbb-cccc.json").write_text(json.dumps(RECORD))
    (tmp_path / "README.md").write_text("not a record")

    advisory = _only(read_osv_source(tmp_path))

    assert isinstance(advisory, Advisory)
    assert advisory.id == "GHSA-aaaa-bbbb-cccc"
    assert advisory.source == "osv"
    assert advisory.published == "2024-04-30T08:00:00.123456Z"
    assert advisory.aliases == ["CVE-2024-0001"]
    assert advisory.severity[0]["score"].startswith("CVSS:3.1/")
    assert advisory.database_specific == {"severity": "HIGH"}
    affected = _only(advisory.affected)
    assert (affected.ecosystem, affected.name) == ("PyPI", "demo-lib")
    assert affected.ranges == RECORD["affected"][0]["ranges"]  # kept as OSV JSON
    assert affected.versions == ["1.0", "1.4.1"]
    assert affected.database_specific == {"source": "demo"}


def test_it_keeps_yaml_timestamps_as_strings_and_keeps_withdrawn(tmp_path):
    folder = tmp_path / "vulns" / "other-lib"
    folder.mkdir(parents=True)
    (folder / "PYSEC-2024-1.yaml").write_text(YAML_RECORD)

    advisory = _only(read_osv_source(tmp_path / "vulns", source="pypa"))

    assert advisory.modified == "2024-06-02T12:30:45.5Z"
    assert advisory.published == "2024-06-01T00:00:00Z"
    assert advisory.withdrawn == "2024-06-03T00:00:00Z"
    assert advisory.source == "pypa"
    assert advisory.affected[0].versions == ["1.10", "2.0.1"]
    assert advisory.affected[0].ranges[0]["events"][1] == {"last_affected": "2.0"}


def test_it_reads_yml_records_and_skips_hidden_folders(tmp_path):
    (tmp_path / "a.yml").write_text(YAML_RECORD)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "junk.json").write_text("{")

    assert [a.id for a in read_osv_source(tmp_path)] == ["PYSEC-2024-1"]


def test_it_reads_a_zip_export_without_extracting_it(tmp_path):
    archive = tmp_path / "PyPI.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("GHSA-aaaa-bbbb-cccc.json", json.dumps(RECORD))
        zf.writestr("PYSEC-2024-1.yaml", YAML_RECORD)
        zf.writestr("broken.json", '{"id": ')
        zf.writestr("notes.txt", "ignored")

    results = list(read_osv_source(archive))

    assert [r.id for r in results if isinstance(r, Advisory)] == ["GHSA-aaaa-bbbb-cccc", "PYSEC-2024-1"]
    rejection = _only(r for r in results if isinstance(r, Rejection))
    assert rejection.origin == f"{archive}!broken.json"
    assert rejection.reason.startswith("invalid JSON")


def test_it_rejects_a_file_that_is_not_a_zip(tmp_path):
    fake = tmp_path / "all.zip"
    fake.write_bytes(b"not a zip at all")

    rejection = _only(read_osv_source(fake))

    assert isinstance(rejection, Rejection)
    assert "not a readable zip archive" in rejection.reason


def test_it_reads_a_json_list_of_records_from_a_single_file(tmp_path):
    second = dict(RECORD, id="GHSA-2222-3333-4444")
    path = tmp_path / "batch.json"
    path.write_text(json.dumps([RECORD, second, "junk"]))

    results = list(read_osv_source(path))

    assert [r.id for r in results[:2]] == ["GHSA-aaaa-bbbb-cccc", "GHSA-2222-3333-4444"]
    assert results[2] == Rejection(f"{path}[2]", None, "record must be an object, got string")


def test_it_raises_for_a_path_that_does_not_exist(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(read_osv_source(tmp_path / "missing"))


def test_it_rejects_unreadable_files_with_the_reason(tmp_path):
    (tmp_path / "bad.yaml").write_text("id: X\naffected: [unclosed\n")
    (tmp_path / "latin1.json").write_bytes('{"id": "caf\u00e9"}'.encode("latin-1"))
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "two.yaml").write_text("id: A\n---\nid: B\n")

    reasons = {r.origin.rsplit("/", 1)[1]: r.reason for r in read_osv_source(tmp_path)}

    assert reasons["bad.yaml"].startswith("invalid YAML:")
    assert reasons["latin1.json"] == "not UTF-8 text: byte 0xe9 at offset 11"
    assert reasons["empty.yaml"] == "record must be an object, got null"
    assert reasons["two.yaml"].startswith("invalid YAML: expected a single document")


@pytest.mark.parametrize("path, value, reason", [
    (["id"], KeyError, "id: required"),
    (["id"], "  ", "id: must be a non-empty string, got '  '"),
    (["modified"], KeyError, "modified: required"),
    (["modified"], "2024-05-01", "modified: must be an RFC 3339 date-time, got '2024-05-01'"),
    (["modified"], "2024-13-01T00:00:00Z", "modified: must be an RFC 3339 date-time"),
    (["withdrawn"], "yesterday", "withdrawn: must be an RFC 3339 date-time, got 'yesterday'"),
    (["aliases"], "CVE-2024-0001", "aliases: must be a list of strings, got string"),
    (["affected", 0, "package"], KeyError, "affected[0].package: required object"),
    (["affected", 0, "package", "name"], 42, "affected[0].package.name: must be a non-empty string, got number 42"),
    (["affected", 0, "package", "ecosystem"], KeyError, "affected[0].package.ecosystem: required"),
    (["affected", 0, "ranges"], {"type": "ECOSYSTEM"}, "affected[0].ranges: must be a list, got object"),
    (["affected", 0, "ranges", 0, "type"], "NPM",
     "affected[0].ranges[0].type: unknown range type 'NPM' (expected ECOSYSTEM, SEMVER or GIT)"),
    (["affected", 0, "ranges", 0, "events", 1], {"fixed": 1.5},
     "affected[0].ranges[0].events[1]: 'fixed' must be a non-empty string, got number 1.5"),
    (["affected", 0, "ranges", 0, "events", 1], {"fix": "1.4.2"},
     "affected[0].ranges[0].events[1]: unknown event 'fix'"),
    (["affected", 0, "ranges", 0, "events", 1], {"introduced": "1", "fixed": "2"},
     "affected[0].ranges[0].events[1]: must be an object with exactly one key"),
    (["affected", 0, "ranges", 0, "events"], [{"fixed": "1.4.2"}],
     "affected[0].ranges[0].events: needs an 'introduced' event"),
    (["affected", 0, "ranges", 0, "events"], [], "affected[0].ranges[0].events: must be a non-empty list"),
    (["affected", 0, "versions", 1], 1.41, "affected[0].versions[1]: must be a string, got number 1.41 (quote it in YAML)"),
    (["severity", 0, "score"], 9.8, "severity[0].score: must be a non-empty string, got number 9.8"),
    (["affected", 0, "ecosystem_specific"], ["x"], "affected[0].ecosystem_specific: must be an object, got list"),
])
def test_it_rejects_malformed_records_with_a_path_to_the_problem(path, value, reason):
    assert reason in _reason(_with(path, value))


def test_it_does_not_require_introduced_in_git_ranges():
    record = _with(["affected", 0, "ranges", 1, "events"], [{"fixed": "b" * 40}])

    assert isinstance(osv_advisory(record, origin="x"), Advisory)


def test_it_names_the_record_and_lists_several_problems():
    record = _with(["modified"], "soon")
    record["affected"][0]["ranges"][0]["events"][1] = {"fixed": None}

    rejection = osv_advisory(record, origin="a/b.json")

    assert rejection.origin == "a/b.json"
    assert rejection.record_id == "GHSA-aaaa-bbbb-cccc"
    assert rejection.reason == ("modified: must be an RFC 3339 date-time, got 'soon'; "
                                "affected[0].ranges[0].events[1]: 'fixed' must be a non-empty string, got null")


def test_it_accepts_a_minimal_record_and_null_lists():
    advisory = osv_advisory({"id": "OSV-1", "modified": "2024-01-01T00:00:00+02:00",
                             "aliases": None, "affected": None}, origin="x")

    assert isinstance(advisory, Advisory)
    assert (advisory.aliases, advisory.affected, advisory.withdrawn) == ([], [], None)


def test_it_rejects_unquoted_yaml_numbers_where_strings_are_needed(tmp_path):
    (tmp_path / "r.yaml").write_text(YAML_RECORD.replace('- "1.10"', "- 1.10"))

    rejection = _only(read_osv_source(tmp_path))

    assert rejection.reason == "affected[0].versions[0]: must be a string, got number 1.1 (quote it in YAML)"


def test_it_rejects_yaml_that_json_could_not_hold(tmp_path):
    (tmp_path / "alias.yaml").write_text(YAML_RECORD + "database_specific: &loop {self: *loop}\n")
    (tmp_path / "binary.yaml").write_text(YAML_RECORD + "database_specific: {blob: !!binary aGk=}\n")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "nested.json").write_text(json.dumps(dict(RECORD, database_specific=_nest(40))))

    reasons = {r.origin.rsplit("/", 1)[1]: r.reason for r in read_osv_source(tmp_path)}

    assert reasons == {
        "alias.yaml": "uses YAML anchors/aliases, which OSV records never need",
        "binary.yaml": "holds a bytes, which JSON cannot",
        "deep.json": "nested deeper than 32 levels",
        "nested.json": "nested deeper than 32 levels",
    }


def _nest(depth):
    value = {}
    for _ in range(depth):
        value = {"x": value}
    return value
