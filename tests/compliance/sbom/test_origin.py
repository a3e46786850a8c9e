"""Which layer installed each package: OS databases across layers, language files, the file index."""
import json

from compliance.sbom.dpkg import parse_dpkg_status
from compliance.sbom.facts import facts_from_layers
from compliance.sbom.layers import LayerFile
from compliance.sbom.origin import packages_with_origin
from tests.compliance.sbom.sbom_tars import dpkg_stanza, dpkg_status, layer, pom, zip_bytes

STATUS = "var/lib/dpkg/status"
OS_RELEASE = ("etc/os-release", b'ID=debian\nVERSION_ID="12"\n')


def read(*layers, config=None):
    return facts_from_layers(repository="quarantine/app", digest="sha256:m",
                             layer_digests=[f"sha256:l{i}" for i in range(len(layers))],
                             config=config or {"config": {}}, layers=layers)


def origins(facts, kind="deb"):
    return {(p.name, p.version): p.layer_index for p in facts.packages if p.type == kind}


def test_it_reports_the_base_layer_for_untouched_packages_and_the_upgrading_layer_for_upgrades():
    base = dpkg_status(dpkg_stanza("bash", "5.2.15-2"), dpkg_stanza("libc6", "2.36-9", source="glibc"))
    upgraded = dpkg_status(dpkg_stanza("bash", "5.2.15-2"), dpkg_stanza("libc6", "2.36-9+deb12u4", source="glibc"))
    installed = dpkg_status(dpkg_stanza("bash", "5.2.15-2"), dpkg_stanza("curl", "7.88.1-10"),
                            dpkg_stanza("libc6", "2.36-9+deb12u4", source="glibc"))
    facts = read(layer(OS_RELEASE, (STATUS, base)), layer((STATUS, upgraded)), layer((STATUS, installed)))
    assert origins(facts) == {("bash", "5.2.15-2"): 0, ("libc6", "2.36-9+deb12u4"): 1, ("curl", "7.88.1-10"): 2}
    libc6 = next(p for p in facts.packages if p.name == "libc6")
    assert (libc6.path, libc6.source_name) == (STATUS, "glibc")
    assert libc6.purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"


def test_it_blames_the_layer_that_reinstalled_a_version_after_a_change():
    v1, v2 = dpkg_status(dpkg_stanza("tool", "1")), dpkg_status(dpkg_stanza("tool", "2"))
    assert origins(read(layer((STATUS, v1)), layer((STATUS, v2)), layer((STATUS, v1)))) == {("tool", "1"): 2}


def test_it_starts_over_when_a_layer_deletes_the_database():
    status = dpkg_status(dpkg_stanza("bash", "5.2.15-2"))
    deleted = read(layer((STATUS, status)), layer(("var/lib/dpkg/.wh.status", b"")))
    assert deleted.packages == []
    recreated = read(layer((STATUS, status)), layer(("var/lib/dpkg/.wh.status", b"")), layer((STATUS, status)))
    assert origins(recreated) == {("bash", "5.2.15-2"): 2}
    opaque = read(layer((STATUS, status)), layer(("var/lib/dpkg/.wh..wh..opq", b""), (STATUS, status)))
    assert origins(opaque) == {("bash", "5.2.15-2"): 1}


def test_it_does_not_count_a_removed_then_reinstalled_package_as_old():
    with_tool = dpkg_status(dpkg_stanza("bash", "5"), dpkg_stanza("tool", "1"))
    removed = dpkg_status(dpkg_stanza("bash", "5"), dpkg_stanza("tool", "1", status="deinstall ok config-files"))
    facts = read(layer((STATUS, with_tool)), layer((STATUS, removed)), layer((STATUS, with_tool)))
    assert origins(facts) == {("bash", "5"): 0, ("tool", "1"): 2}


def test_it_gives_distroless_status_d_packages_their_own_file_history():
    facts = read(layer(("var/lib/dpkg/status.d/libc6", dpkg_stanza("libc6", "2.36").encode()),
                       ("var/lib/dpkg/status.d/base-files", dpkg_stanza("base-files", "12").encode())),
                 layer(("var/lib/dpkg/status.d/libc6", dpkg_stanza("libc6", "2.37").encode())))
    assert origins(facts) == {("base-files", "12"): 0, ("libc6", "2.37"): 1}


def test_it_follows_apk_packages_across_layers():
    base = b"P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\n"
    upgraded = base.replace(b"3.1.4-r5", b"3.1.4-r6") + b"\nP:curl\nV:8.5.0-r0\nA:x86_64\n"
    facts = read(layer(("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"), ("lib/apk/db/installed", base)),
                 layer(("lib/apk/db/installed", upgraded)))
    assert origins(facts, "apk") == {("musl", "1.2.4-r2"): 0, ("libcrypto3", "3.1.4-r6"): 1, ("curl", "8.5.0-r0"): 1}
    musl = next(p for p in facts.packages if p.name == "musl")
    assert musl.purl == "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1"


def test_it_reports_language_packages_only_from_the_top_copy_of_their_file():
    site = "usr/local/lib/python3.11/site-packages"
    facts = read(
        layer((f"{site}/requests-2.30.0.dist-info/METADATA", b"Name: requests\nVersion: 2.30.0\n"),
              ("app/node_modules/left-pad/package.json", json.dumps({"name": "left-pad", "version": "1.3.0"}).encode()),
              ("app/node_modules/express/package.json", json.dumps({"name": "express", "version": "4.18.2"}).encode())),
        layer((f"{site}/requests-2.30.0.dist-info/METADATA", b"Name: requests\nVersion: 2.31.0\n"),
              ("app/lib/app.jar", zip_bytes({**pom("com.acme", "app", "1.0")}))),
        layer(("app/node_modules/left-pad/.wh.package.json", b"")),
    )
    assert {(p.type, p.name, p.version, p.layer_index) for p in facts.packages} == {
        ("pypi", "requests", "2.31.0", 1), ("npm", "express", "4.18.2", 0), ("maven", "com.acme:app", "1.0", 1)}
    assert {p.purl for p in facts.packages} == {"pkg:pypi/requests@2.31.0", "pkg:npm/express@4.18.2",
                                               "pkg:maven/com.acme/app@1.0"}


def test_it_counts_the_files_each_layer_contributes_to_the_final_image():
    facts = read(layer(("a", b""), ("b", b""), ("c", b"")), layer((".wh.a", b""), ("b", b"1")), layer())
    assert facts.files_by_layer == [1, 1, 0]  # "a" deleted, "b" rewritten above, "c" kept
    assert facts.file_count == 2


def test_it_takes_a_single_copy_as_its_own_origin():
    copy = LayerFile(STATUS, dpkg_status(dpkg_stanza("bash", "5")), 3)
    assert [(p.name, p.layer_index) for p in packages_with_origin([copy], parse_dpkg_status)] == [("bash", 3)]
    assert packages_with_origin([], parse_dpkg_status) == []
