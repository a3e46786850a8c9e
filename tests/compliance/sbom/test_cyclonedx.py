"""CycloneDX export: one component per package with its purl, the image as the described container."""
import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from compliance.sbom.cyclonedx import cyclonedx_json
from compliance.sbom.models import ImageFacts, Package, SecretFinding
from compliance.sbom.purl import package_purl


def package(**fields):
    defaults = {"name": "x", "version": "1", "source_name": fields.get("name", "x"), "source_version": "1",
                "architecture": ""}
    return Package(**{**defaults, **fields})


PACKAGES = [
    package(name="libc6", version="2.36-9+deb12u4", source_name="glibc", architecture="amd64", layer_index=0,
            path="var/lib/dpkg/status"),
    package(type="pypi", name="Foo_Bar", version="1.0", source_name="foo-bar", layer_index=2,
            path="usr/lib/python3/dist-packages/Foo_Bar-1.0.dist-info/METADATA"),
    package(type="maven", name="org.yaml:snakeyaml", version="2.0", layer_index=3, path="app.jar!/BOOT-INF/lib/s.jar"),
    package(type="maven", name="org.yaml:snakeyaml", version="2.0", layer_index=3, path="other.jar"),
    package(type="npm", name="@types/node", version="20.10.0", layer_index=3, path="node_modules/@types/node/package.json"),
    package(type="apk", name="musl", version="1.2.4-r2", architecture="x86_64"),
]


def facts(**overrides):
    values = dict(repository="quarantine/payments/shop", digest="sha256:" + "ab" * 32,
                  layer_digests=["sha256:l0", "sha256:l1", "sha256:l2", "sha256:l3"], config={},
                  os={"ID": "debian", "VERSION_ID": "12", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"},
                  packages=PACKAGES)
    return ImageFacts(**{**values, **overrides})


def test_it_writes_a_valid_cyclonedx_1_6_document():
    output = cyclonedx_json(facts())
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(output) is None
    document = json.loads(output)
    assert (document["bomFormat"], document["specVersion"]) == ("CycloneDX", "1.6")


def test_it_describes_the_image_as_a_container_named_by_repository_and_digest():
    metadata = json.loads(cyclonedx_json(facts()))["metadata"]["component"]
    assert (metadata["type"], metadata["name"], metadata["version"]) == (
        "container", "quarantine/payments/shop", "sha256:" + "ab" * 32)


def test_it_lists_every_package_as_a_library_with_its_purl():
    components = json.loads(cyclonedx_json(facts()))["components"]
    libraries = [c for c in components if c["type"] == "library"]
    assert sorted(c["purl"] for c in libraries) == [  # the library orders components itself
        "pkg:apk/debian/musl@1.2.4-r2?arch=x86_64&distro=debian-12",
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
        "pkg:maven/org.yaml/snakeyaml@2.0",
        "pkg:maven/org.yaml/snakeyaml@2.0",
        "pkg:npm/%40types/node@20.10.0",
        "pkg:pypi/foo-bar@1.0",
    ]
    [snakeyaml] = [c for c in libraries if {"name": "image-portal:path", "value": "app.jar!/BOOT-INF/lib/s.jar"}
                   in c["properties"]]
    assert (snakeyaml["group"], snakeyaml["name"], snakeyaml["version"]) == ("org.yaml", "snakeyaml", "2.0")
    properties = {p["name"]: p["value"] for p in snakeyaml["properties"]}
    assert properties == {"image-portal:package-type": "maven", "image-portal:layer-index": "3",
                          "image-portal:layer-digest": "sha256:l3", "image-portal:path": "app.jar!/BOOT-INF/lib/s.jar"}
    assert len({c["bom-ref"] for c in components}) == len(components)  # the same purl twice still gets two refs


def test_it_adds_the_distribution_as_the_one_operating_system_component():
    components = json.loads(cyclonedx_json(facts()))["components"]
    assert [(c["name"], c["version"]) for c in components if c["type"] == "operating-system"] == [("debian", "12")]
    assert not [c for c in json.loads(cyclonedx_json(facts(os={})))["components"] if c["type"] == "operating-system"]


def test_it_makes_the_image_depend_on_everything_it_contains():
    document = json.loads(cyclonedx_json(facts()))
    image_ref = document["metadata"]["component"]["bom-ref"]
    [image] = [d for d in document["dependencies"] if d["ref"] == image_ref]
    assert set(image["dependsOn"]) == {c["bom-ref"] for c in document["components"]}


def test_it_keeps_a_purl_the_reader_already_set_and_never_exports_secrets():
    finding = SecretFinding(path="app/.env", layer_index=1, rule="github-token", fingerprint="sha256:0123456789ab",
                            line=1)
    output = cyclonedx_json(facts(packages=[package(type="npm", name="x", purl="pkg:npm/x@1")], secrets=[finding]))
    assert sorted(str(c.get("purl")) for c in json.loads(output)["components"]) == ["None", "pkg:npm/x@1"]
    assert "app/.env" not in output and "0123456789ab" not in output


def test_it_exports_an_image_without_packages():
    output = cyclonedx_json(facts(packages=[], os={}, repository=""))
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(output) is None
    assert json.loads(output)["metadata"]["component"]["name"] == "sha256:" + "ab" * 32


def test_it_builds_purls_per_the_spec_without_an_os_release():
    assert package_purl(package(name="bash", version="5.2")) == "pkg:deb/debian/bash@5.2"
    assert package_purl(package(type="apk", name="musl", version="1.2")) == "pkg:apk/alpine/musl@1.2"
    assert package_purl(package(type="maven", name="plain", version="1.1")) == "pkg:maven/plain@1.1"
    assert package_purl(package(type="pypi", name="Foo", source_name="", version="1")) == "pkg:pypi/foo@1"
