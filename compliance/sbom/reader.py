"""Read an image from the registry into `ImageFacts` (OS, packages, users, secrets, config).

The parsing lives in `facts` (shared with `docker_save`); this module only fetches.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, Protocol

from compliance.sbom.docker_save import read_docker_save
from compliance.sbom.facts import (
    DPKG_STATUS,
    DPKG_STATUS_D,
    OS_RELEASE_PATHS,
    PASSWD,
    facts_from_files,
    facts_from_layers,
    history_path,
    wanted_path,
)
from compliance.sbom.layer_record import LayerRecord, LayerRecordError, layer_recipe, record_bytes, record_load
from compliance.sbom.models import ImageFacts
from compliance.sbom.secrets import MAX_FILES

if TYPE_CHECKING:  # importing `portal` at run time would pull in its Celery app
    from adapters.registry import BlobStream, RegistryClient

__all__ = ["DPKG_STATUS", "DPKG_STATUS_D", "OS_RELEASE_PATHS", "PASSWD", "LayerRecords", "facts_from_files",
           "facts_from_layers", "history_path", "read_docker_save", "read_image", "wanted_path"]

log = logging.getLogger(__name__)


class LayerRecords(Protocol):
    """Where layer records are kept, by layer blob digest and recipe (compliance/scanned_layers.py)."""

    def get(self, digests: list[str], recipe: str) -> dict[str, bytes]:
        """The stored records of those of `digests` that have one."""

    def put(self, digest: str, recipe: str, record: bytes) -> None:
        """Keep the record of a layer whose blob was checked against `digest`."""


def read_image(client: RegistryClient, repository: str, reference: str, *,
               max_secret_files: int = MAX_FILES, records: LayerRecords | None = None) -> ImageFacts:
    """Facts about `repository:reference` (a tag or a digest), read layer by layer.

    Each layer is streamed, never held whole, and checked against its digest once read. With
    `records`, a layer that has a record is not downloaded at all (its record is replayed, with
    the same result), and the record of each layer read is kept there once its digest checked out.
    """
    manifest, digest = client.manifest(repository, reference)
    config = json.loads(client.blob(repository, manifest["config"]["digest"]))
    layer_digests = [layer["digest"] for layer in manifest.get("layers", [])]
    if records is None:
        return facts_from_layers(repository=repository, digest=digest, layer_digests=layer_digests, config=config,
                                 layers=_verified_streams(client, repository, layer_digests),
                                 max_secret_files=max_secret_files)
    layers = _RecordedLayers(client, repository, layer_digests, records, layer_recipe(max_secret_files=max_secret_files))
    return facts_from_layers(repository=repository, digest=digest, layer_digests=layer_digests, config=config,
                             layers=layers, max_secret_files=max_secret_files, recorded=layers.recorded)


def _verified_streams(client: RegistryClient, repository: str, digests: list[str]) -> Iterator[BlobStream]:
    # facts_from_layers asks for the next layer only once done with the previous one, so the
    # code after `yield` runs exactly when a layer has been read: verify it there.
    for digest in digests:
        with client.open_blob(repository, digest) as stream:
            yield stream
            stream.verify()


class _RecordedLayers:
    """The layers of an image as records where one is stored, else as verified streams whose
    records are stored once their digest checked out (`recorded` receives them first)."""

    def __init__(self, client: RegistryClient, repository: str, digests: list[str], records: LayerRecords,
                 recipe: str):
        self._client, self._repository, self._digests = client, repository, digests
        self._records, self._recipe = records, recipe
        self._known = {digest: record for digest, stored in records.get(digests, recipe).items()
                       if (record := _loaded(digest, stored)) is not None}
        self._read: LayerRecord | None = None

    def recorded(self, record: LayerRecord) -> None:
        self._read = record

    def __iter__(self) -> Iterator[BinaryIO | LayerRecord]:
        for digest in self._digests:
            if digest in self._known:
                yield self._known[digest]
                continue
            self._read = None
            with self._client.open_blob(self._repository, digest) as stream:
                yield stream
                stream.verify()
            stored = record_bytes(self._read) if self._read is not None else None
            if stored is not None:
                self._records.put(digest, self._recipe, stored)
                self._known[digest] = self._read  # the same layer again further up: not downloaded twice


def _loaded(digest: str, stored: bytes) -> LayerRecord | None:
    try:
        return record_load(stored)
    except LayerRecordError as error:
        log.warning("layer %s: stored record ignored, the layer is read again: %s", digest, error)
        return None
