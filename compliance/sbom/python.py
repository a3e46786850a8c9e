"""Python distributions: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, and the
single-file `*.egg-info` that distutils (and Debian's python3-* packages) install.

All three are RFC 822 style headers (then a free-text description we never read).
"""
from __future__ import annotations

import re
from email.parser import HeaderParser

from compliance.sbom.models import Package

# Only the headers matter; a long description can follow and is cut before parsing.
MAX_HEADER_BYTES = 64 * 1024
_SEPARATORS = re.compile(r"[-_.]+")


def is_python_metadata(path: str) -> bool:
    return path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO", ".egg-info"))


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: `Foo.Bar_baz` and `foo-bar-baz` are one project on PyPI."""
    return _SEPARATORS.sub("-", name).lower()


def parse_python_metadata(data: bytes, *, path: str = "", layer_index: int | None = None) -> Package | None:
    """The distribution these headers describe, or None without a Name and a Version."""
    text = data[:MAX_HEADER_BYTES].decode("utf-8", errors="replace").replace("\r\n", "\n")
    headers = HeaderParser().parsestr(text.split("\n\n", 1)[0], headersonly=True)
    name, version = (headers.get("Name") or "").strip(), (headers.get("Version") or "").strip()
    if not name or not version:
        return None
    return Package(
        type="pypi",
        name=name,
        version=version,
        source_name=canonical_name(name),  # what OSV's PyPI ecosystem keys on
        source_version=version,
        architecture="",
        layer_index=layer_index,
        path=path,
    )
