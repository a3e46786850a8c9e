"""Python distribution metadata: dist-info METADATA, egg-info PKG-INFO and egg-info files."""
import pytest

from compliance.sbom.python import canonical_name, is_python_metadata, parse_python_metadata

METADATA = b"""\
Metadata-Version: 2.1
Name: Foo.Bar_baz
Version: 2.31.0
Summary: Python HTTP for Humans.
Requires-Dist: charset-normalizer (<4,>=2)
Description-Content-Type: text/markdown

# Foo
Name: not-this
Version: 0.0.0
"""


def test_it_reads_name_and_version_and_canonicalises_the_source_name():
    package = parse_python_metadata(METADATA, path="usr/lib/python3/site-packages/foo-2.31.0.dist-info/METADATA",
                                    layer_index=3)
    assert (package.type, package.name, package.version) == ("pypi", "Foo.Bar_baz", "2.31.0")
    assert (package.source_name, package.source_version) == ("foo-bar-baz", "2.31.0")
    assert (package.layer_index, package.path) == (3, "usr/lib/python3/site-packages/foo-2.31.0.dist-info/METADATA")


def test_it_reads_pkg_info_with_crlf_and_folded_headers():
    data = b"Metadata-Version: 1.0\r\nName: six\r\nVersion: 1.16.0\r\nSummary: a long\r\n  folded summary\r\n"
    package = parse_python_metadata(data)
    assert (package.name, package.version) == ("six", "1.16.0")


@pytest.mark.parametrize("data", [b"Name: x\n", b"Version: 1\n", b"", b"\n\nName: x\nVersion: 1\n", b"\xff\xfe\x00"])
def test_it_gives_none_without_a_name_and_a_version_in_the_headers(data):
    assert parse_python_metadata(data) is None


def test_it_reads_only_the_headers_of_a_huge_file():
    data = b"Name: big\nVersion: 1\n\n" + b"x" * (2 * 1024 * 1024)
    assert parse_python_metadata(data).name == "big"


@pytest.mark.parametrize("name, canonical", [("Foo.Bar", "foo-bar"), ("foo__bar", "foo-bar"), ("A-_.B", "a-b"),
                                             ("requests", "requests")])
def test_it_canonicalises_names_per_pep_503(name, canonical):
    assert canonical_name(name) == canonical


def test_it_recognises_metadata_paths():
    assert all(map(is_python_metadata, [
        "usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO",
        "usr/lib/python3/dist-packages/distro_info-1.0.egg-info",
    ]))
    assert not any(map(is_python_metadata, [
        "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/RECORD",
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info/top_level.txt",
        "METADATA", "app/PKG-INFO",
    ]))
