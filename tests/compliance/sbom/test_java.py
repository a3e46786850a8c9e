"""Java archives: pom.properties, MANIFEST.MF, file names, nested jars, and the bounds."""
import io
import random

import pytest

from compliance.sbom import java
from compliance.sbom.java import is_java_archive, parse_java_archive
from tests.compliance.sbom.sbom_tars import pom, zip_bytes


def parse(data, path="app/app.jar", layer_index=4):
    return parse_java_archive(io.BytesIO(data), path=path, layer_index=layer_index)


def coordinates(packages):
    return sorted((p.name, p.version, p.path) for p in packages)


def test_it_reads_pom_properties():
    [package] = parse(zip_bytes({**pom("org.apache.commons", "commons-lang3", "3.12.0"), "a/B.class": b"\xca\xfe"}))
    assert (package.type, package.name, package.version) == ("maven", "org.apache.commons:commons-lang3", "3.12.0")
    assert (package.source_name, package.source_version) == ("org.apache.commons:commons-lang3", "3.12.0")
    assert (package.layer_index, package.path) == (4, "app/app.jar")


def test_it_reports_every_library_a_shaded_jar_bundles_once_each():
    files = {**pom("com.acme", "app", "1.0"), **pom("com.google.guava", "guava", "32.1.2-jre"),
             **pom("org.slf4j", "slf4j-api", "2.0.9")}
    packages = parse(zip_bytes(files))
    assert [p.name for p in packages] == ["com.acme:app", "com.google.guava:guava", "org.slf4j:slf4j-api"]


def test_it_skips_a_pom_properties_missing_the_version_and_tolerates_spaces_and_colons():
    files = {"META-INF/maven/g/a/pom.properties": b"groupId=g\nartifactId=a\n",
             "META-INF/maven/h/b/pom.properties": b"! comment\ngroupId : h\nartifactId = b\nversion:2.0\n"}
    assert [(p.name, p.version) for p in parse(zip_bytes(files))] == [("h:b", "2.0")]


def test_it_falls_back_to_the_osgi_bundle_in_the_manifest():
    manifest = (b"Manifest-Version: 1.0\r\nImplementation-Title: ASM, a very small and fast Java bytecode man\r\n"
                b" ipulation framework\r\nImplementation-Version: 9.4\r\nBundle-SymbolicName: org.objectweb.asm;s\r\n"
                b" ingleton:=true\r\nBundle-Version: 9.4.0\r\n\r\nName: org/x/\r\nBundle-Version: 0\r\n")
    [package] = parse(zip_bytes({"META-INF/MANIFEST.MF": manifest}), path="usr/share/java/asm.jar")
    assert (package.name, package.version) == ("org.objectweb.asm", "9.4.0")


def test_it_uses_an_implementation_title_only_when_it_is_an_identifier():
    manifest = b"Manifest-Version: 1.0\nImplementation-Title: jackson-core\nImplementation-Version: 2.15.2\n"
    [package] = parse(zip_bytes({"META-INF/MANIFEST.MF": manifest}), path="x.jar")
    assert (package.name, package.version) == ("jackson-core", "2.15.2")
    prose = b"Manifest-Version: 1.0\nImplementation-Title: Java Runtime Environment\nImplementation-Version: 17\n"
    assert parse(zip_bytes({"META-INF/MANIFEST.MF": prose}), path="lib/jrt-fs.jar") == []


@pytest.mark.parametrize("file_name, name, version", [
    ("commons-io-2.13.0.jar", "commons-io", "2.13.0"),
    ("netty-codec-http2-4.1.100.Final.jar", "netty-codec-http2", "4.1.100.Final"),
    ("log4j-api-2.20.0.jar", "log4j-api", "2.20.0"),
    ("shop-1.0-SNAPSHOT.war", "shop", "1.0-SNAPSHOT"),
])
def test_it_falls_back_to_the_file_name(file_name, name, version):
    [package] = parse(zip_bytes({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n"}), path=f"opt/{file_name}")
    assert (package.name, package.version) == (name, version)


def test_it_gives_nothing_for_an_unversioned_anonymous_jar():
    assert parse(zip_bytes({"a.class": b""}), path="opt/app.jar") == []


def test_it_opens_nested_jars_of_a_war_and_a_spring_boot_jar():
    lib = zip_bytes(pom("org.yaml", "snakeyaml", "2.0"))
    war = zip_bytes({**pom("com.acme", "shop", "1.0"), "WEB-INF/lib/snakeyaml-2.0.jar": lib,
                     "WEB-INF/lib/plain-1.1.jar": zip_bytes({"x.class": b""})})
    boot = zip_bytes({**pom("com.acme", "boot", "2.0"), "BOOT-INF/lib/shop-1.0.war": war})
    assert coordinates(parse(boot, path="app/boot.jar")) == [
        ("com.acme:boot", "2.0", "app/boot.jar"),
        ("com.acme:shop", "1.0", "app/boot.jar!/BOOT-INF/lib/shop-1.0.war"),
        ("org.yaml:snakeyaml", "2.0", "app/boot.jar!/BOOT-INF/lib/shop-1.0.war!/WEB-INF/lib/snakeyaml-2.0.jar"),
        ("plain", "1.1", "app/boot.jar!/BOOT-INF/lib/shop-1.0.war!/WEB-INF/lib/plain-1.1.jar"),
    ]
    assert {p.layer_index for p in parse(boot)} == {4}  # nested packages live in the outer file's layer


def test_it_stops_at_three_levels_of_nesting():
    deepest = zip_bytes(pom("d", "level4", "4"))
    level3 = zip_bytes({**pom("c", "level3", "3"), "lib/level4.jar": deepest})
    level2 = zip_bytes({**pom("b", "level2", "2"), "lib/level3.jar": level3})
    level1 = zip_bytes({**pom("a", "level1", "1"), "lib/level2.jar": level2})
    assert [p.name for p in parse(level1)] == ["a:level1", "b:level2", "c:level3"]


def test_it_skips_nested_archives_beyond_the_size_and_total_budgets(monkeypatch):
    small = zip_bytes(pom("s", "small", "1"))
    big = zip_bytes({**pom("b", "big", "1"), "pad.bin": random.Random(0).randbytes(5000)})  # incompressible
    outer = zip_bytes({"lib/big.jar": big, "lib/small.jar": small, "lib/small2.jar": small})
    monkeypatch.setattr(java, "MAX_NESTED_SIZE", 2000)
    assert [p.path for p in parse(outer)] == ["app/app.jar!/lib/small.jar", "app/app.jar!/lib/small2.jar"]
    monkeypatch.setattr(java, "MAX_NESTED_TOTAL", len(small) + 10)
    assert [p.path for p in parse(outer)] == ["app/app.jar!/lib/small.jar"]


def test_it_survives_broken_archives():
    assert parse(b"not a zip at all") == []
    assert parse(b"") == []
    good = zip_bytes(pom("g", "good", "1"))
    outer = zip_bytes({**pom("o", "outer", "1"), "lib/broken.jar": b"PK\x03\x04garbage", "lib/good.jar": good})
    assert [p.name for p in parse(outer)] == ["o:outer", "g:good"]


@pytest.mark.parametrize("path, expected", [("a/b.jar", True), ("a/b.WAR", True), ("x.ear", True),
                                            ("a/b.jar.sha1", False), ("a/jar", False), ("b.zip", False)])
def test_it_recognises_archive_names(path, expected):
    assert is_java_archive(path) is expected
