"""parse_dpkg_status: the dpkg database as found in image layers."""
from compliance.sbom.dpkg import parse_dpkg_status
from compliance.sbom.models import Package

STATUS = """\
Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
 .
 Package: not-a-package-this-is-a-description-line

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14+deb12u1
Conffiles:
 /etc/foo 0123456789abcdef

Package: old-removed
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: half-done
Status: install ok half-configured
Architecture: amd64
Version: 2.0-1

Package: base-files
Status: hold ok installed
Architecture: amd64
Version: 12.4+deb12u5
"""


def names(packages):
    return [p.name for p in packages]


def test_it_keeps_only_installed_and_held_stanzas():
    assert names(parse_dpkg_status(STATUS)) == ["libc6", "libgcc-s1", "base-files"]


def test_it_reads_source_without_version_as_the_binary_version():
    libc6 = parse_dpkg_status(STATUS, layer_index=3)[0]
    assert libc6 == Package(name="libc6", version="2.36-9+deb12u4", source_name="glibc",
                            source_version="2.36-9+deb12u4", architecture="amd64", layer_index=3)
    assert libc6.type == "deb"


def test_it_reads_source_with_its_own_version():
    libgcc = parse_dpkg_status(STATUS)[1]
    assert (libgcc.source_name, libgcc.source_version) == ("gcc-12", "12.2.0-14")
    assert libgcc.version == "12.2.0-14+deb12u1"


def test_it_uses_the_binary_name_and_version_when_source_is_missing():
    base_files = parse_dpkg_status(STATUS)[2]
    assert (base_files.source_name, base_files.source_version) == ("base-files", "12.4+deb12u5")


def test_it_ignores_continuation_lines_that_look_like_fields():
    assert "not-a-package-this-is-a-description-line" not in names(parse_dpkg_status(STATUS))


def test_it_handles_crlf_and_a_last_stanza_without_newline():
    text = ("Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n\r\n"
            "Package: b\r\nStatus: install ok installed\r\nVersion: 2")
    assert [(p.name, p.version) for p in parse_dpkg_status(text)] == [("a", "1"), ("b", "2")]


def test_it_treats_whitespace_only_lines_and_repeated_blank_lines_as_separators():
    text = ("\n\nPackage: a\nStatus: install ok installed\nVersion: 1\n \t\n"
            "Package: b\nStatus: install ok installed\nVersion: 2\n\n\n")
    assert names(parse_dpkg_status(text)) == ["a", "b"]


def test_it_reads_distroless_status_d_files_without_a_status_field():
    # rules_distroless writes one file per package, with no Status field.
    text = ("Package: libssl3\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\nSource: openssl\n\n"
            "Package: openssl-provider-legacy\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\n"
            "Source: openssl (3.0.15-1~deb12u1)\n")
    packages = parse_dpkg_status(text, layer_index=0)
    assert [(p.name, p.source_name, p.source_version) for p in packages] == [
        ("libssl3", "openssl", "3.0.15-1~deb12u1"),
        ("openssl-provider-legacy", "openssl", "3.0.15-1~deb12u1"),
    ]


def test_it_skips_stanzas_without_a_package_field_and_empty_text():
    assert parse_dpkg_status("Status: install ok installed\nVersion: 1\n") == []
    assert parse_dpkg_status("") == []
