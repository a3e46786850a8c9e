"""ImageFacts -> an SPDX 2.3 JSON document: the SBOM format Harbor asks its scanners for by default.

Pure: the creation time, the tool name and the namespace's unique part are arguments. The image
is the one package the document DESCRIBES (purpose CONTAINER, named by an `oci` purl and its
manifest digest); it CONTAINS every installed package (purpose LIBRARY, named by its purl) and
the distribution (purpose OPERATING-SYSTEM). Nothing was analysed file by file, so
`filesAnalyzed` is false, and licences are NOASSERTION: the portal does not read them, and
"unknown" must not read as "none". As with CycloneDX, secrets are never exported.
"""
from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

from packageurl import PackageURL

from compliance.sbom.models import ImageFacts, Package
from compliance.sbom.purl import package_purl, unique_reference

SPDX_VERSION = "SPDX-2.3"
NAMESPACE_BASE = "https://image-portal.invalid/spdx"  # .invalid: a URI that names, never resolves
NOASSERTION = "NOASSERTION"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")  # SPDXRef- ids allow letters, digits, "." and "-" only


def spdx_document(facts: ImageFacts, *, created: datetime.datetime, tool: str,
                  unique: str | None = None) -> dict[str, Any]:
    """The document as a dict; `unique` (a fresh UUID by default) makes the namespace unique, as
    the spec requires of every document, even two of the same image."""
    image_id = "SPDXRef-Image"
    packages = [_image_package(facts, image_id)]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": image_id}]
    used: set[str] = {image_id}
    for package in facts.packages:
        packages.append(_package(package, facts, _unique_id(package, used)))
    if facts.os.get("ID"):
        os_id = _unique_id(None, used, f"SPDXRef-OperatingSystem-{facts.os['ID']}")
        packages.append({**_blank(os_id, facts.os["ID"], facts.os.get("VERSION_ID", "")),
                         "primaryPackagePurpose": "OPERATING-SYSTEM",
                         **({"description": facts.os["PRETTY_NAME"]} if facts.os.get("PRETTY_NAME") else {})})
    relationships += [{"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": p["SPDXID"]}
                      for p in packages[1:]]
    name = facts.repository or facts.digest
    return {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{name}@{facts.digest}",
        "documentNamespace": f"{NAMESPACE_BASE}/{name}/{facts.digest}/{unique or uuid.uuid4()}",
        "creationInfo": {"created": created.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "creators": [f"Tool: {tool}"]},
        "packages": packages,
        "relationships": relationships,
    }


def _blank(spdx_id: str, name: str, version: str) -> dict[str, Any]:
    package = {"SPDXID": spdx_id, "name": name, "downloadLocation": NOASSERTION, "filesAnalyzed": False,
               "licenseConcluded": NOASSERTION, "licenseDeclared": NOASSERTION, "copyrightText": NOASSERTION}
    if version:
        package["versionInfo"] = version
    return package


def _image_package(facts: ImageFacts, spdx_id: str) -> dict[str, Any]:
    repository = facts.repository or "image"
    name = repository.rsplit("/", 1)[-1]
    purl = PackageURL(type="oci", name=name.lower(), version=facts.digest or None,
                      qualifiers={"repository_url": repository} if "/" in repository else {}).to_string()
    package = {**_blank(spdx_id, repository, facts.digest), "primaryPackagePurpose": "CONTAINER",
               "externalRefs": [_purl_ref(purl)]}
    algorithm, _, value = facts.digest.partition(":")
    if algorithm == "sha256" and value:
        package["checksums"] = [{"algorithm": "SHA256", "checksumValue": value}]  # the manifest's digest
    return package


def _package(package: Package, facts: ImageFacts, spdx_id: str) -> dict[str, Any]:
    purl = package.purl or package_purl(package, facts.os)
    entry = {**_blank(spdx_id, package.name, package.version), "primaryPackagePurpose": "LIBRARY",
             "externalRefs": [_purl_ref(purl)]}
    if package.source_name and (package.source_name, package.source_version) != (package.name, package.version) \
            and package.type in ("deb", "apk"):
        entry["sourceInfo"] = f"built from source package {package.source_name} {package.source_version}".strip()
    where = []
    if package.layer_index is not None:
        layer = facts.layer_digests[package.layer_index] if package.layer_index < len(facts.layer_digests) else ""
        where.append(f"installed by layer {package.layer_index}" + (f" ({layer})" if layer else ""))
    if package.path:
        where.append(f"read from {package.path}")
    if where:
        entry["comment"] = "; ".join(where)
    return entry


def _purl_ref(purl: str) -> dict[str, str]:
    return {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}


def _unique_id(package: Package | None, used: set[str], wanted: str = "") -> str:
    # One name can be installed twice (a jar in two places): ids must still differ.
    wanted = wanted or f"SPDXRef-Package-{package.type}-{package.name}-{package.version}"
    base = "SPDXRef-" + re.sub("-{2,}", "-", _ID_UNSAFE.sub("-", wanted.removeprefix("SPDXRef-"))).strip("-")
    return unique_reference(base, used, "-")  # SPDX ids allow letters, digits, "." and "-" only
