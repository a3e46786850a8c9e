"""Read an image from the registry into `ImageFacts` (OS, packages, users, secrets, config).

The parsing lives in `facts` (shared with `docker_save`); this module only fetches.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

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
from compliance.sbom.models import ImageFacts
from compliance.sbom.secrets import MAX_FILES

if TYPE_CHECKING:  # importing `portal` at run time would pull in its Celery app
    from adapters.registry import BlobStream, RegistryClient

__all__ = ["DPKG_STATUS", "DPKG_STATUS_D", "OS_RELEASE_PATHS", "PASSWD", "facts_from_files",
           "facts_from_layers", "history_path", "read_docker_save", "read_image", "wanted_path"]


def read_image(client: RegistryClient, repository: str, reference: str, *,
               max_secret_files: int = MAX_FILES) -> ImageFacts:
    """Facts about `repository:reference` (a tag or a digest), read layer by layer.

    Each layer is streamed, never held whole, and checked against its digest once read.
    """
    manifest, digest = client.manifest(repository, reference)
    config = json.loads(client.blob(repository, manifest["config"]["digest"]))
    layer_digests = [layer["digest"] for layer in manifest.get("layers", [])]
    return facts_from_layers(repository=repository, digest=digest, layer_digests=layer_digests, config=config,
                             layers=_verified_streams(client, repository, layer_digests),
                             max_secret_files=max_secret_files)


def _verified_streams(client: RegistryClient, repository: str, digests: list[str]) -> Iterator[BlobStream]:
    # scan_layers asks for the next layer only once done with the previous one, so the
    # code after `yield` runs exactly when a layer has been read: verify it there.
    for digest in digests:
        with client.open_blob(repository, digest) as stream:
            yield stream
            stream.verify()
