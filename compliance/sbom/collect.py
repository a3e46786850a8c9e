"""The layer visitor `read_image` uses: language packages and secrets, one read per file.

Language packages are parsed in every layer as the files stream by (a jar can be hundreds
of megabytes: it is spooled, never kept), and only those whose file is still the top copy
are reported, with that file's layer.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from typing import BinaryIO

from compliance.sbom.java import is_java_archive, parse_java_archive
from compliance.sbom.models import Package
from compliance.sbom.npm import MAX_MANIFEST_BYTES, is_npm_package_json, parse_npm_package_json
from compliance.sbom.ownership import MAX_FILE_LIST_BYTES, dpkg_owned, is_dpkg_file_list
from compliance.sbom.python import MAX_HEADER_BYTES, is_python_metadata, parse_python_metadata
from compliance.sbom.secrets import MAX_FILE_SIZE, MAX_FILES, SecretScanner

MAX_ARCHIVE_SIZE = 512 * 1024 * 1024
_SPOOL_IN_MEMORY = 16 * 1024 * 1024  # bigger archives go to a temp file while parsed


class LayerCollector:
    """A `LayerVisitor`: `packages(index)` and `secrets` once every layer went by."""

    def __init__(self, *, max_secret_files: int = MAX_FILES):
        self.secrets = SecretScanner(max_files=max_secret_files)
        self._found: list[tuple[str, Package]] = []  # (file in the image, package)
        self._file_lists: list[tuple[str, int, set[str]]] = []  # (dpkg .list, its layer, the paths it names)

    def wants(self, layer_index: int, path: str, size: int) -> bool:
        # The scanner, once past its file limit, notes the scan as truncated when asked.
        return (self._language(path, size) or (is_dpkg_file_list(path) and size <= MAX_FILE_LIST_BYTES)
                or self.secrets.wants(layer_index, path, size))

    def visit(self, layer_index: int, path: str, size: int, data: BinaryIO) -> None:
        if is_dpkg_file_list(path):
            if size <= MAX_FILE_LIST_BYTES:
                self._file_lists.append((path, layer_index, dpkg_owned(data.read(MAX_FILE_LIST_BYTES))))
            return  # a file list holds paths, never secrets
        if is_java_archive(path):
            if size <= MAX_ARCHIVE_SIZE:
                self._java(layer_index, path, data)
            return  # a zip is binary: nothing for the secret scanner
        if not self._language(path, size):
            if self.secrets.wants(layer_index, path, size):
                self.secrets.visit(layer_index, path, size, data)
            return
        content = data.read(MAX_FILE_SIZE)
        if is_python_metadata(path):
            self._keep(path, parse_python_metadata(content[:MAX_HEADER_BYTES], path=path, layer_index=layer_index))
        else:
            self._keep(path, parse_npm_package_json(content, path=path, layer_index=layer_index))
        if size <= MAX_FILE_SIZE and self.secrets.wants(layer_index, path, size):
            self.secrets.scan_file(layer_index, path, content)

    def packages(self, index: Mapping[str, int], os_owned: set[str] = frozenset()) -> list[Package]:
        """Packages whose file is, at the top of the image, the copy they were read from, and that
        no OS package installed (see compliance/sbom/ownership.py): `os_owned` adds the paths other
        package databases (apk) name to those of the dpkg file lists still in the image."""
        owned = set(os_owned)
        for path, layer_index, paths in self._file_lists:
            if index.get(path) == layer_index:
                owned |= paths
        return [package for path, package in self._found
                if index.get(path) == package.layer_index and path not in owned]

    def _language(self, path: str, size: int) -> bool:
        return ((is_java_archive(path) and size <= MAX_ARCHIVE_SIZE) or is_python_metadata(path)
                or (is_npm_package_json(path) and size <= MAX_MANIFEST_BYTES))

    def _java(self, layer_index: int, path: str, data: BinaryIO) -> None:
        # zipfile needs to seek (its directory is at the end); a tar stream cannot.
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
            shutil.copyfileobj(data, spool, 1024 * 1024)
            spool.seek(0)
            for package in parse_java_archive(spool, path=path, layer_index=layer_index):
                self._keep(path, package)

    def _keep(self, path: str, package: Package | None) -> None:
        if package is not None:
            self._found.append((path, package))

