"""Package names as the matcher compares them. Pure.

Records and SBOMs spell some names several ways; each ecosystem's own rule decides which spellings
are one package:
- PyPI: PEP 503 (runs of `-`, `_`, `.` are one `-`, case-insensitive): `PyYAML` is `pyyaml`,
  `jw.util` is `jw-util`;
- Debian, Alpine: source package names are lower case by policy and compared as written;
- npm, Maven, Go, RubyGems: names are case-sensitive in their registries (npm's legacy
  upper-case names, Maven's groupId:artifactId), so they are compared as written;
- crates.io (`-` and `_` are one, case-insensitive) would need its rule here once Rust binaries are read.
"""
from compliance.sbom.python import canonical_name as pypi_canonical

__all__ = ["package_name", "pypi_canonical"]


def package_name(ecosystem: str, name: str) -> str:
    """`name` as the matcher stores and looks it up in `ecosystem`."""
    if ecosystem.split(":", 1)[0] == "PyPI":
        return pypi_canonical(name)
    return name
