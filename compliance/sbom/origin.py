"""Which layer installed each OS package, from every layer's copy of its database.

The database in the top layer says what is installed, not since when: `apt-get install`
in layer 3 rewrites the whole status file, so the file's own layer would blame layer 3
for every package of the base. A package's origin is instead the first layer of the
unbroken run of copies, ending at the top, that list it at the same version: an upgrade
in layer 3 starts a new run, and so does a database deleted and written again.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from compliance.sbom.layers import LayerFile
from compliance.sbom.models import Package

Parser = Callable[..., list[Package]]  # (text, layer_index, path) -> packages


def packages_with_origin(copies: list[LayerFile], parse: Parser) -> list[Package]:
    """Packages of the last copy (`copies` oldest first, as `scan_layers` keeps them)."""
    if not copies:
        return []
    top = copies[-1]
    listed = [{_key(p) for p in parse(_text(copy), copy.layer_index, copy.path)} for copy in copies[:-1]]
    packages = []
    for package in parse(_text(top), top.layer_index, top.path):
        first = len(copies) - 1
        while first > 0 and _key(package) in listed[first - 1]:
            first -= 1
        packages.append(replace(package, layer_index=copies[first].layer_index))
    return packages


def _key(package: Package) -> tuple[str, str, str]:
    return package.name, package.architecture, package.version


def _text(copy: LayerFile) -> str:
    return copy.data.decode("utf-8", errors="replace")
