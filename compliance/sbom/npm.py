"""npm packages: the `package.json` at the root of each `node_modules/<name>` (or
`node_modules/@scope/<name>`) directory, nested node_modules included.

Other package.json files are not installed packages: the application's own manifest, or
test fixtures and sub-manifests inside a package (`node_modules/x/test/fixtures/...`).
"""
from __future__ import annotations

import json
import re

from compliance.sbom.models import Package

MAX_MANIFEST_BYTES = 1024 * 1024
# npm package names never start with "." or "_" (that excludes node_modules/.bin and
# .cache), and one starting with "@" is a scope, whose packages sit one level deeper.
_PACKAGE_JSON = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/._@][^/]*/package\.json$")


def is_npm_package_json(path: str) -> bool:
    return _PACKAGE_JSON.search(path) is not None


def parse_npm_package_json(data: bytes, *, path: str = "", layer_index: int | None = None) -> Package | None:
    """The package a manifest declares, or None when it is not JSON or lacks a name or version."""
    if len(data) > MAX_MANIFEST_BYTES:
        return None
    try:
        manifest = json.loads(data.decode("utf-8-sig", errors="replace"))
    except ValueError:
        return None
    if not isinstance(manifest, dict):
        return None
    name, version = manifest.get("name"), manifest.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    return Package(
        type="npm",
        name=name,
        version=version,
        source_name=name,
        source_version=version,
        architecture="",
        layer_index=layer_index,
        path=path,
    )
