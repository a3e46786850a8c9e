"""Maven version ordering (Maven 3 `ComparableVersion`), through `univers`.

`univers` follows Maven except for one alias: Maven treats the qualifier `release` like `ga`
and `final` (the same as no qualifier, so `5.2.9.RELEASE == 5.2.9`), univers sorts it as an
unknown qualifier. We rewrite that qualifier to `ga` before handing the version over.
"""
from __future__ import annotations

import re

from univers.maven import Version

from compliance.vulndb.versions.errors import InvalidVersion

__all__ = ["maven_key"]

# A qualifier is a run of letters between separators or digit boundaries.
_RELEASE_QUALIFIER = re.compile(r"(?<![a-z])release(?![a-z])")
# Printable ASCII without spaces: univers trips over other Unicode digits ("²"), and no
# artifact in a repository has a version outside this set.
_PLAUSIBLE = re.compile(r"[!-~]+")


def maven_key(version: str) -> Version:
    """A sort key for a Maven version: `1.0-alpha1 < 1.0-SNAPSHOT < 1.0 == 1.0.0 < 1.0-sp1`."""
    # Maven orders any string at all; we only refuse what cannot be a version in a POM.
    if not _PLAUSIBLE.fullmatch(version):
        raise InvalidVersion(f"invalid Maven version {version!r}")
    try:
        return Version(_RELEASE_QUALIFIER.sub("ga", version.lower()))
    except ValueError as error:
        raise InvalidVersion(f"invalid Maven version {version!r}") from error
