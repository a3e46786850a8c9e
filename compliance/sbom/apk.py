"""Parse the Alpine package database `lib/apk/db/installed`.

One record per package, records separated by a blank line, one `X:value` field a line.
The letters we use: P name, V version, A architecture, o origin (the source package
that Alpine's security database keys advisories on). Every other letter (file lists F/R,
checksums Z, ...) repeats per file and is skipped.
"""
from __future__ import annotations

from compliance.sbom.models import Package

APK_INSTALLED = "lib/apk/db/installed"


def parse_apk_installed(text: str, layer_index: int | None = None, path: str = APK_INSTALLED) -> list[Package]:
    """Installed packages; a record without a name or a version is skipped."""
    packages = []
    for record in _records(text):
        name, version = record.get("P", ""), record.get("V", "")
        if not name or not version:
            continue
        packages.append(Package(
            type="apk",
            name=name,
            version=version,
            # Subpackages (libcrypto3) share their origin's (openssl) advisories.
            source_name=record.get("o") or name,
            source_version=version,  # apk builds every subpackage from one origin version
            architecture=record.get("A", ""),
            layer_index=layer_index,
            path=path,
        ))
    return packages


def _records(text: str) -> list[dict[str, str]]:
    records: list[dict[str, str]] = []
    record: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if record:
                records.append(record)
            record = {}
        elif len(line) >= 2 and line[1] == ":":
            record.setdefault(line[0], line[2:].strip())  # P/V/A/o occur once; the rest is unused
    if record:
        records.append(record)
    return records
