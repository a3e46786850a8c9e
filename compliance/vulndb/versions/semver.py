"""Semantic Versioning 2.0.0 precedence, used for npm and for OSV `SEMVER` ranges.

Written here rather than taken from a library because the ones at hand either coerce
non-versions (`1.2.3.4` becomes `1.2.3+4`) or let build metadata break the order
(`1.0.0+a` neither equal to, below nor above `1.0.0+b`). Build metadata is ignored for
ordering, as the spec says. A leading `v` is accepted, as npm's own parser does.
"""
from __future__ import annotations

import re

from compliance.vulndb.versions.errors import InvalidVersion

__all__ = ["semver_key"]

_NUMBER = r"(?:0|[1-9][0-9]*)"
_IDENTIFIER = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"v?(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>{_IDENTIFIER}(?:\.{_IDENTIFIER})*))?"
    rf"(?:\+{_IDENTIFIER}(?:\.{_IDENTIFIER})*)?"
)

# A release sorts after all of its pre-releases: (1,) > (0, ...).
_RELEASE = (1,)


def _identifier_key(identifier: str) -> tuple:
    if identifier.isdigit():
        if len(identifier) > 1 and identifier.startswith("0"):
            raise InvalidVersion(f"numeric pre-release identifier {identifier!r} has a leading zero")
        return (0, int(identifier))  # numeric identifiers sort below alphanumeric ones
    return (1, identifier)


def semver_key(version: str) -> tuple:
    """A sort key giving SemVer 2.0.0 precedence (section 11)."""
    match = _SEMVER.fullmatch(version)
    if not match:
        raise InvalidVersion(f"invalid semantic version {version!r}")
    pre = match["pre"]
    # A longer list of pre-release identifiers sorts after its prefix, as tuples do.
    pre_key = _RELEASE if pre is None else (0, *(_identifier_key(i) for i in pre.split(".")))
    return (int(match["major"]), int(match["minor"]), int(match["patch"]), pre_key)
