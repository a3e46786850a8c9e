"""Package URLs (https://github.com/package-url/purl-spec) for our package types.

A purl is how other tools (CycloneDX consumers, OSV, Dependency-Track) name a package,
so it must follow the spec's per-type rules; packageurl-python does the escaping.
"""
from __future__ import annotations

from dataclasses import replace

from packageurl import PackageURL

from compliance.sbom.models import Package

# Without an os-release we still know whose packages these are by their format.
_DEFAULT_VENDOR = {"deb": "debian", "apk": "alpine"}


def package_purl(package: Package, os_release: dict[str, str] | None = None) -> str:
    """`pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12`, `pkg:pypi/requests@2.31.0`, ..."""
    os_release = os_release or {}
    version = package.version or None
    if package.type in _DEFAULT_VENDOR:
        vendor = os_release.get("ID") or _DEFAULT_VENDOR[package.type]
        qualifiers = {"arch": package.architecture} if package.architecture else {}
        if os_release.get("VERSION_ID"):
            qualifiers["distro"] = f"{vendor}-{os_release['VERSION_ID']}"
        return PackageURL(type=package.type, namespace=vendor, name=package.name, version=version,
                          qualifiers=qualifiers).to_string()
    if package.type == "pypi":
        return PackageURL(type="pypi", name=package.source_name or package.name, version=version).to_string()
    if package.type == "maven":
        group, _, artifact = package.name.rpartition(":")
        return PackageURL(type="maven", namespace=group or None, name=artifact, version=version).to_string()
    if package.type == "npm":
        scope, _, name = package.name.rpartition("/")  # "@types/node" -> namespace "@types"
        return PackageURL(type="npm", namespace=scope or None, name=name, version=version).to_string()
    return PackageURL(type=package.type, name=package.name, version=version).to_string()


def with_purls(packages: list[Package], os_release: dict[str, str] | None = None) -> list[Package]:
    return [replace(p, purl=package_purl(p, os_release)) for p in packages]


def unique_reference(wanted: str, used: set[str], separator: str) -> str:
    """`wanted`, or `wanted<separator>2`, 3 ... if taken; recorded in `used`. Exports need unique
    references, and one purl can occur twice in an image (the same jar in two places)."""
    candidate, number = wanted, 1
    while candidate in used:
        number += 1
        candidate = f"{wanted}{separator}{number}"
    used.add(candidate)
    return candidate
