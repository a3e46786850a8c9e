"""parse_apk_installed: Alpine's package database."""
from compliance.sbom.apk import parse_apk_installed

INSTALLED = """\
C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
o:musl
m:Timo Teras <timo.teras@iki.fi>
F:lib
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q1def=
R:ld-musl-x86_64.so.1

P:libcrypto3
V:3.1.4-r5
A:x86_64
o:openssl
F:usr/lib
R:libcrypto.so.3

P:no-version-here
A:x86_64

P:busybox
V:1.36.1-r15
A:x86_64"""


def test_it_reads_every_record_with_its_origin_as_source():
    packages = parse_apk_installed(INSTALLED, layer_index=2)
    assert [(p.name, p.version, p.source_name, p.source_version, p.architecture) for p in packages] == [
        ("musl", "1.2.4-r2", "musl", "1.2.4-r2", "x86_64"),
        ("libcrypto3", "3.1.4-r5", "openssl", "3.1.4-r5", "x86_64"),
        ("busybox", "1.36.1-r15", "busybox", "1.36.1-r15", "x86_64"),  # no o: -> its own origin
    ]
    assert {(p.type, p.layer_index, p.path) for p in packages} == {("apk", 2, "lib/apk/db/installed")}


def test_it_keeps_the_first_value_when_file_lines_repeat_letters():
    text = "P:a\nV:1\nR:file1\nR:file2\nF:dir\nF:dir2\n"
    [package] = parse_apk_installed(text)
    assert (package.name, package.version) == ("a", "1")


def test_it_accepts_crlf_whitespace_only_separators_and_no_final_newline():
    text = "P:a\r\nV:1\r\n \r\nP:b\r\nV:2"
    assert [p.name for p in parse_apk_installed(text)] == ["a", "b"]


def test_it_skips_records_without_name_or_version_and_junk_lines():
    assert parse_apk_installed("V:1\n\nP:x\n\nnot a field\n\n") == []
    assert parse_apk_installed("") == []
