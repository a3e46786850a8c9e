"""Language packages an OS package installed are not reported twice (and not matched against the
language advisories with the distribution's patched version)."""
from compliance.sbom.ownership import apk_owned, dpkg_owned, is_dpkg_file_list
from tests.compliance.sbom.sbom_tars import dpkg_stanza, dpkg_status, layer
from tests.compliance.sbom.test_origin import OS_RELEASE, STATUS, read

DEBIAN_EGG = "usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO"
PIP_DIST = "usr/local/lib/python3.11/dist-packages/urllib3-1.26.4.dist-info/METADATA"
URLLIB3_LIST = "var/lib/dpkg/info/python3-urllib3.list"


def pkg_info(name, version):
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()


def file_list(*paths):
    return ("/.\n/usr\n" + "".join(f"/{p}\n" for p in paths)).encode()


def pypi(facts):
    return sorted((p.name, p.version, p.path) for p in facts.packages if p.type == "pypi")


def test_a_debian_python_library_is_the_deb_only_and_a_pip_installed_copy_is_still_reported():
    facts = read(
        layer(OS_RELEASE, (STATUS, dpkg_status(dpkg_stanza("python3-urllib3", "1.26.12-1", source="python-urllib3"))),
              (DEBIAN_EGG, pkg_info("urllib3", "1.26.12")),
              (URLLIB3_LIST, file_list("usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info", DEBIAN_EGG))),
        layer((PIP_DIST, pkg_info("urllib3", "1.26.4"))))
    assert pypi(facts) == [("urllib3", "1.26.4", PIP_DIST)]
    assert [p.name for p in facts.packages if p.type == "deb"] == ["python3-urllib3"]


def test_a_file_list_removed_by_a_later_layer_no_longer_owns_anything():
    # The package was purged (its .list deleted) but the metadata file was left behind by hand.
    facts = read(layer(OS_RELEASE, (DEBIAN_EGG, pkg_info("urllib3", "1.26.12")),
                       (URLLIB3_LIST, file_list(DEBIAN_EGG))),
                 layer(("var/lib/dpkg/info/.wh.python3-urllib3.list", b"")))
    assert pypi(facts) == [("urllib3", "1.26.12", DEBIAN_EGG)]


def test_alpine_packages_own_the_files_their_database_lists():
    installed = (b"P:py3-six\nV:1.16.0-r4\nA:x86_64\nF:usr/lib/python3.11/site-packages/six-1.16.0.dist-info\n"
                 b"R:METADATA\nR:RECORD\n\n")
    six = "usr/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA"
    other = "usr/lib/python3.11/site-packages/attrs-23.1.0.dist-info/METADATA"
    facts = read(layer(("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"), ("lib/apk/db/installed", installed),
                       (six, pkg_info("six", "1.16.0")), (other, pkg_info("attrs", "23.1.0"))))
    assert pypi(facts) == [("attrs", "23.1.0", other)]


def test_its_parsers_read_paths_as_the_layer_reader_names_them():
    assert dpkg_owned(b"/.\n/usr/share/java/foo.jar\n\n/etc/x\n") == {"usr/share/java/foo.jar", "etc/x"}
    assert apk_owned("P:a\nF:usr/lib\nR:x.so\nR:y.so\n\nP:b\nR:top\n") == {"usr/lib", "usr/lib/x.so", "usr/lib/y.so",
                                                                        "top"}
    assert is_dpkg_file_list("var/lib/dpkg/info/libssl3:amd64.list")
    assert not is_dpkg_file_list("var/lib/dpkg/info/libssl3.md5sums")
    assert not is_dpkg_file_list("var/lib/dpkg/info/sub/x.list")
