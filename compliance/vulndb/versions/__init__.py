"""Version ordering per OSV ecosystem.

Each comparator is a *key function*: it turns a version string into a value that sorts like the
ecosystem's own tools sort versions, and raises `InvalidVersion` for strings they would reject.
Keys of one ecosystem compare with each other only.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compliance.vulndb.versions.apk import apk_key
from compliance.vulndb.versions.dpkg import dpkg_key
from compliance.vulndb.versions.errors import InvalidVersion, UnsupportedEcosystem
from compliance.vulndb.versions.maven import maven_key
from compliance.vulndb.versions.pep440 import pep440_key
from compliance.vulndb.versions.semver import semver_key

__all__ = [
    "InvalidVersion",
    "UnsupportedEcosystem",
    "VersionKey",
    "comparator_for",
    "ecosystem_base",
    "version_compare",
]

VersionKey = Callable[[str], Any]

# Keyed by the ecosystem without its release suffix: "Debian:12", "Ubuntu:22.04:LTS" and
# "Alpine:v3.18" order versions exactly like their base ecosystem does.
_KEYS_BY_BASE: dict[str, VersionKey] = {
    "Debian": dpkg_key,
    "Ubuntu": dpkg_key,
    "Alpine": apk_key,
    "PyPI": pep440_key,
    "Maven": maven_key,
    "npm": semver_key,
}


def ecosystem_base(ecosystem: str) -> str:
    """`"Debian:12"` -> `"Debian"`; `"Maven:https://maven.google.com"` -> `"Maven"`."""
    return ecosystem.split(":", 1)[0]


def comparator_for(ecosystem: str) -> VersionKey:
    """The sort key function for versions of an OSV ecosystem string (case-sensitive, as OSV)."""
    try:
        return _KEYS_BY_BASE[ecosystem_base(ecosystem)]
    except KeyError:
        raise UnsupportedEcosystem(f"no version ordering for ecosystem {ecosystem!r}") from None


def version_compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, equal to or after `b` in `ecosystem`."""
    key = comparator_for(ecosystem)
    key_a, key_b = key(a), key(b)
    return (key_a > key_b) - (key_a < key_b)
