"""SPDX 2.3 export: the image DESCRIBED as a container that CONTAINS every package, each named by its purl."""
import datetime
import json

import jsonschema

from compliance.sbom.models import SecretFinding
from compliance.sbom.spdx import spdx_document
from tests.compliance.sbom.test_cyclonedx import PACKAGES, facts

MOMENT = datetime.datetime(2026, 5, 1, 14, 0, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
ID = {"type": "string", "pattern": r"^SPDXRef-[A-Za-z0-9.\-]+$"}
NOASSERTION_OR_TEXT = {"type": "string", "minLength": 1}
# What SPDX 2.3 requires of a JSON document and its packages (clauses 6, 7 and 11 of the spec),
# written down here rather than downloaded: the suite runs offline.
SCHEMA = {
    "type": "object",
    "required": ["spdxVersion", "dataLicense", "SPDXID", "name", "documentNamespace", "creationInfo"],
    "properties": {
        "spdxVersion": {"const": "SPDX-2.3"},
        "dataLicense": {"const": "CC0-1.0"},
        "SPDXID": {"const": "SPDXRef-DOCUMENT"},
        "documentNamespace": {"type": "string", "pattern": r"^https?://[^#\s]+$"},
        "creationInfo": {"type": "object", "required": ["created", "creators"], "properties": {
            "created": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"},
            "creators": {"type": "array", "minItems": 1,
                         "items": {"type": "string", "pattern": r"^(Tool|Organization|Person): .+"}}}},
        "packages": {"type": "array", "items": {
            "type": "object", "required": ["SPDXID", "name", "downloadLocation"],
            "properties": {
                "SPDXID": ID, "name": {"type": "string", "minLength": 1}, "downloadLocation": NOASSERTION_OR_TEXT,
                "filesAnalyzed": {"const": False},  # true would require a verification code and files
                "licenseConcluded": NOASSERTION_OR_TEXT, "licenseDeclared": NOASSERTION_OR_TEXT,
                "primaryPackagePurpose": {"enum": ["APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER",
                                                   "OPERATING-SYSTEM", "DEVICE", "FIRMWARE", "SOURCE", "ARCHIVE",
                                                   "FILE", "INSTALL", "OTHER"]},
                "checksums": {"type": "array", "items": {"type": "object", "required": ["algorithm", "checksumValue"],
                                                         "properties": {"algorithm": {"const": "SHA256"},
                                                                        "checksumValue": {"pattern": "^[0-9a-f]{64}$"}}}},
                "externalRefs": {"type": "array", "items": {
                    "type": "object", "required": ["referenceCategory", "referenceType", "referenceLocator"],
                    "properties": {"referenceCategory": {"enum": ["SECURITY", "PACKAGE-MANAGER", "PERSISTENT-ID",
                                                                  "OTHER"]},
                                   "referenceLocator": {"type": "string", "pattern": r"^\S+$"}}}},
            }}},
        "relationships": {"type": "array", "items": {
            "type": "object", "required": ["spdxElementId", "relationshipType", "relatedSpdxElement"],
            "properties": {"spdxElementId": ID, "relatedSpdxElement": ID,
                           "relationshipType": {"enum": ["DESCRIBES", "CONTAINS"]}}}},
    },
}


def document(**overrides):
    return spdx_document(facts(**overrides), created=MOMENT, tool="image-portal-0.1.0", unique="run-1")


def test_it_writes_the_fields_spdx_2_3_requires():
    written = document()
    jsonschema.validate(written, SCHEMA)
    assert json.loads(json.dumps(written)) == written, "plain JSON types only"
    assert written["creationInfo"] == {"created": "2026-05-01T12:00:05Z", "creators": ["Tool: image-portal-0.1.0"]}
    assert written["documentNamespace"] == (
        "https://image-portal.invalid/spdx/quarantine/payments/shop/sha256:" + "ab" * 32 + "/run-1")


def test_it_gives_every_document_its_own_namespace():
    one, two = (spdx_document(facts(), created=MOMENT, tool="t") for _ in range(2))
    assert one["documentNamespace"] != two["documentNamespace"]


def test_it_describes_the_image_as_a_container_that_contains_every_package():
    written = document()
    image, *contained = written["packages"]
    assert (image["SPDXID"], image["name"], image["versionInfo"], image["primaryPackagePurpose"]) == (
        "SPDXRef-Image", "quarantine/payments/shop", "sha256:" + "ab" * 32, "CONTAINER")
    assert image["checksums"] == [{"algorithm": "SHA256", "checksumValue": "ab" * 32}]
    assert image["externalRefs"][0]["referenceLocator"] == (
        "pkg:oci/shop@sha256:" + "ab" * 32 + "?repository_url=quarantine/payments/shop")
    ids = [p["SPDXID"] for p in written["packages"]]
    assert len(ids) == len(set(ids)) == len(PACKAGES) + 2, "the image, each package (twice-installed too), the OS"
    relationships = written["relationships"]
    assert relationships[0] == {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                                "relatedSpdxElement": "SPDXRef-Image"}
    assert [(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in relationships[1:]] == [
        ("SPDXRef-Image", "CONTAINS", p["SPDXID"]) for p in contained]


def test_it_names_each_package_by_its_purl_and_says_where_it_was_found():
    by_name = {}
    for entry in document()["packages"][1:]:
        by_name.setdefault(entry["name"], []).append(entry)
    [libc] = by_name["libc6"]
    assert libc["externalRefs"] == [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                     "referenceLocator": "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"}]
    assert (libc["versionInfo"], libc["primaryPackagePurpose"], libc["sourceInfo"]) == (
        "2.36-9+deb12u4", "LIBRARY", "built from source package glibc 1")
    assert libc["comment"] == "installed by layer 0 (sha256:l0); read from var/lib/dpkg/status"
    assert (libc["licenseConcluded"], libc["downloadLocation"], libc["filesAnalyzed"]) == ("NOASSERTION", "NOASSERTION", False)
    [foo] = by_name["Foo_Bar"]
    assert foo["externalRefs"][0]["referenceLocator"] == "pkg:pypi/foo-bar@1.0" and "sourceInfo" not in foo
    assert [p["SPDXID"] for p in by_name["org.yaml:snakeyaml"]] == ["SPDXRef-Package-maven-org.yaml-snakeyaml-2.0",
                                                                    "SPDXRef-Package-maven-org.yaml-snakeyaml-2.0-2"]
    assert by_name["@types/node"][0]["SPDXID"] == "SPDXRef-Package-npm-types-node-20.10.0"
    [debian] = by_name["debian"]
    assert (debian["primaryPackagePurpose"], debian["versionInfo"], debian["description"]) == (
        "OPERATING-SYSTEM", "12", "Debian GNU/Linux 12 (bookworm)")


def test_it_never_exports_where_secrets_are():
    leak = SecretFinding(path="etc/deploy/key.pem", layer_index=1, rule="private-key", fingerprint="sha256:0", line=1)
    assert "key.pem" not in json.dumps(document(secrets=[leak]))


def test_it_writes_an_image_without_packages_or_os_release():
    written = document(packages=[], os={})
    jsonschema.validate(written, SCHEMA)
    assert [p["SPDXID"] for p in written["packages"]] == ["SPDXRef-Image"]
    assert [r["relationshipType"] for r in written["relationships"]] == ["DESCRIBES"]
