"""Python package version ordering (PEP 440), as pip does it, through `packaging`."""
from __future__ import annotations

from packaging.version import InvalidVersion as _PackagingInvalidVersion
from packaging.version import Version

from compliance.vulndb.versions.errors import InvalidVersion

__all__ = ["pep440_key"]


def pep440_key(version: str) -> Version:
    """A sort key for a PEP 440 version; `1.0 == 1.0.0`, `1.0rc1 < 1.0 < 1.0.post1`."""
    try:
        return Version(version)
    except _PackagingInvalidVersion as error:
        # Legacy (non-PEP 440) versions were dropped by pip too: nothing sensible orders them.
        raise InvalidVersion(f"invalid PEP 440 version {version!r}") from error
