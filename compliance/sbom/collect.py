"""What `read_image` takes from the files of every layer: language packages, dpkg file lists and
secrets, one read per file.

Language packages are parsed in every layer as the files stream by (a jar can be hundreds
of megabytes: it is spooled, never kept), and only those whose file is still the top copy
are reported, with that file's layer.

A layer's findings depend on that layer alone, except for the secret scan's limits: so each
layer's reader hands what it finds to the image's `LayerCollector` at once and can keep a copy
(`LayerFindings`) that the collector takes again, in another image, in place of reading the
layer (compliance/sbom/layer_record.py).
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from compliance.sbom.java import is_java_archive, parse_java_archive
from compliance.sbom.models import Package
from compliance.sbom.npm import MAX_MANIFEST_BYTES, is_npm_package_json, parse_npm_package_json
from compliance.sbom.ownership import MAX_FILE_LIST_BYTES, dpkg_owned, is_dpkg_file_list
from compliance.sbom.python import MAX_HEADER_BYTES, is_python_metadata, parse_python_metadata
from compliance.sbom.secrets import BINARY_PROBE, MAX_FILE_SIZE, MAX_FILES, LayerSecretReader, LayerSecrets, SecretScanner

MAX_ARCHIVE_SIZE = 512 * 1024 * 1024
_SPOOL_IN_MEMORY = 16 * 1024 * 1024  # bigger archives go to a temp file while parsed


@dataclass
class LayerFindings:
    """What one layer's files gave the collector, in the order they came."""

    packages: list[tuple[str, Package]] = field(default_factory=list)  # (file in the image, package)
    file_lists: list[tuple[str, frozenset[str]]] = field(default_factory=list)  # (dpkg .list, the paths it names)
    secrets: LayerSecrets = field(default_factory=LayerSecrets)


class LayerCollector:
    """Every layer's findings, bottom layer first (each read by `reader`, or taken from a record
    by `replay`); `packages(index)` and `secrets` once every layer went by."""

    def __init__(self, *, max_secret_files: int = MAX_FILES):
        self.secrets = SecretScanner(max_files=max_secret_files)
        self._found: list[tuple[str, Package]] = []
        self._file_lists: list[tuple[str, int, frozenset[str]]] = []  # (dpkg .list, its layer, its paths)

    def reader(self, layer_index: int, *, recording: bool = False) -> LayerReader:
        """The `LayerVisitor` for the tar of layer `layer_index`."""
        return LayerReader(self, layer_index, recording=recording)

    def replay(self, layer_index: int, findings: LayerFindings) -> None:
        """Take a layer's findings as its reader handed them over (packages already carry the layer)."""
        for path, package in findings.packages:
            self.add_package(path, package)
        for path, owned in findings.file_lists:
            self.add_file_list(path, layer_index, owned)
        findings.secrets.replay(self.secrets, layer_index)

    def add_package(self, path: str, package: Package) -> None:
        self._found.append((path, package))

    def add_file_list(self, path: str, layer_index: int, owned: frozenset[str]) -> None:
        self._file_lists.append((path, layer_index, owned))

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


class LayerReader:
    """A `LayerVisitor` over one layer's tar: hands each finding to the collector as it comes and,
    when `recording`, keeps it in `record` too (`end` closes it; None once given up)."""

    def __init__(self, collector: LayerCollector, layer_index: int, *, recording: bool):
        self.collector, self.layer_index = collector, layer_index
        self.record: LayerFindings | None = LayerFindings() if recording else None
        self.secrets = LayerSecretReader(collector.secrets, layer_index, recording=recording)
        self._scan_secrets = False  # what `wants` decided for the file `visit` reads next

    def wants(self, layer_index: int, path: str, size: int) -> bool:
        # A file list holds paths and an archive is binary: neither is read for secrets.
        parsed = _language(path, size) or (is_dpkg_file_list(path) and size <= MAX_FILE_LIST_BYTES)
        self._scan_secrets = not _binary_package(path, size) and self.secrets.wants(path, size)
        return parsed or self._scan_secrets

    def visit(self, layer_index: int, path: str, size: int, data: BinaryIO) -> None:
        if is_dpkg_file_list(path):
            if size <= MAX_FILE_LIST_BYTES:
                self._file_list(path, frozenset(dpkg_owned(data.read(MAX_FILE_LIST_BYTES))))
            return
        if is_java_archive(path) and size <= MAX_ARCHIVE_SIZE:
            self._java(path, data)
            return
        if not _language(path, size):
            if self._scan_secrets:
                head = data.read(BINARY_PROBE)  # a binary's remaining megabyte is never copied
                self.secrets.scan(path, head if b"\0" in head else head + data.read(MAX_FILE_SIZE - len(head)))
            return
        content = data.read(MAX_FILE_SIZE)
        if is_python_metadata(path):
            self._keep(path, parse_python_metadata(content[:MAX_HEADER_BYTES], path=path,
                                                   layer_index=self.layer_index))
        else:
            self._keep(path, parse_npm_package_json(content, path=path, layer_index=self.layer_index))
        if self._scan_secrets:
            self.secrets.scan(path, content)

    def stop_recording(self) -> None:
        self.record = None
        self.secrets.stop_recording()

    def end(self) -> LayerFindings | None:
        """Once the layer was read: its findings, complete, or None if not recording."""
        secrets = self.secrets.end()
        if self.record is None or secrets is None:
            return None
        self.record.secrets = secrets
        return self.record

    def _java(self, path: str, data: BinaryIO) -> None:
        # zipfile needs to seek (its directory is at the end); a tar stream cannot.
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
            shutil.copyfileobj(data, spool, 1024 * 1024)
            spool.seek(0)
            for package in parse_java_archive(spool, path=path, layer_index=self.layer_index):
                self._keep(path, package)

    def _keep(self, path: str, package: Package | None) -> None:
        if package is not None:
            self.collector.add_package(path, package)
            if self.record is not None:
                self.record.packages.append((path, package))

    def _file_list(self, path: str, owned: frozenset[str]) -> None:
        self.collector.add_file_list(path, self.layer_index, owned)
        if self.record is not None:
            self.record.file_lists.append((path, owned))


def _language(path: str, size: int) -> bool:
    return ((is_java_archive(path) and size <= MAX_ARCHIVE_SIZE) or is_python_metadata(path)
            or (is_npm_package_json(path) and size <= MAX_MANIFEST_BYTES))


def _binary_package(path: str, size: int) -> bool:
    return (is_java_archive(path) and size <= MAX_ARCHIVE_SIZE) or (is_dpkg_file_list(path) and size <= MAX_FILE_LIST_BYTES)
