"""Read an image from a `docker save` tar (no registry needed).

Two layouts exist: the legacy one (`manifest.json` naming `<config>.json` and
`<id>/layer.tar` files, what Docker before 25 writes) and the OCI image layout
(`index.json` and `blobs/sha256/<hex>`). Docker 25+ writes both at once; the legacy
`manifest.json` is used whenever present. Layers are streamed from the tar, never held
whole, and checked against their digests as they are read.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

from compliance.sbom.facts import facts_from_layers
from compliance.sbom.layers import normalize_path
from compliance.sbom.models import ImageFacts
from compliance.sbom.secrets import MAX_FILES

_OCI_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json")


class DockerSaveError(ValueError):
    """The tar is not a `docker save` archive we can read, or a blob in it is corrupt."""


class _Image(NamedTuple):
    config: bytes
    digest: str
    layers: list[tuple[str, str | None]]  # (path in the tar, digest to check it against)
    tags: list[str]


def read_docker_save(source: str | os.PathLike[str] | BinaryIO, *, repository: str | None = None,
                     max_secret_files: int = MAX_FILES) -> ImageFacts:
    """Facts about the first image of a `docker save` tar (a path or a binary file).

    `repository` defaults to the image's first RepoTag without its tag. `digest` is the
    OCI manifest's digest when the tar has one, else the image ID (the config's digest):
    a legacy save keeps no registry manifest. A file that cannot seek (a pipe) is copied
    to a temporary file first, as the tar's index is at its end.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return _read(handle, repository, max_secret_files)
    if _seekable(source):
        return _read(source, repository, max_secret_files)
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(source, spool, 1024 * 1024)
        spool.seek(0)
        return _read(spool, repository, max_secret_files)


def _read(fileobj: BinaryIO, repository: str | None, max_secret_files: int) -> ImageFacts:
    try:
        with tarfile.open(fileobj=fileobj, mode="r:*") as tar:
            members = {normalize_path(m.name): m for m in tar.getmembers()}
            try:
                image = _legacy(tar, members) if "manifest.json" in members else _oci(tar, members)
                config = json.loads(image.config)
            except DockerSaveError:
                raise
            except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
                raise DockerSaveError(f"not a docker save archive we can read: {exc!r}") from exc
            return facts_from_layers(
                repository=repository if repository is not None else _repository(image.tags),
                digest=image.digest, layer_digests=[digest or "" for _, digest in image.layers], config=config,
                layers=_verified_layers(tar, members, image.layers), max_secret_files=max_secret_files)
    except tarfile.TarError as exc:
        raise DockerSaveError(f"not a readable tar: {exc}") from exc


def _legacy(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> _Image:
    [first, *_] = json.loads(_read_member(tar, members, "manifest.json"))
    config_bytes = _read_member(tar, members, first["Config"])
    diff_ids = (json.loads(config_bytes).get("rootfs") or {}).get("diff_ids") or []
    layers = []
    for number, path in enumerate(first["Layers"]):
        path = normalize_path(path)
        # Docker 25 points into blobs/sha256/; older ones write uncompressed layer.tar files,
        # whose digests are the config's diff_ids.
        digest = _blob_digest(path) or (diff_ids[number] if number < len(diff_ids) else None)
        layers.append((path, digest))
    return _Image(config_bytes, "sha256:" + hashlib.sha256(config_bytes).hexdigest(), layers,
                  first.get("RepoTags") or [])


def _oci(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> _Image:
    if "index.json" not in members:
        raise DockerSaveError("neither manifest.json nor index.json: not a docker save archive")
    descriptor = json.loads(_read_member(tar, members, "index.json"))["manifests"][0]
    tags = [descriptor.get("annotations", {}).get("io.containerd.image.name", "")]
    manifest = json.loads(_read_member(tar, members, _blob_path(descriptor["digest"])))
    while manifest.get("mediaType") in _OCI_INDEX_TYPES or "manifests" in manifest:
        descriptor = _pick_platform(manifest["manifests"])
        manifest = json.loads(_read_member(tar, members, _blob_path(descriptor["digest"])))
    config_bytes = _read_member(tar, members, _blob_path(manifest["config"]["digest"]))
    layers = [(_blob_path(layer["digest"]), layer["digest"]) for layer in manifest["layers"]]
    return _Image(config_bytes, descriptor["digest"], layers, [t for t in tags if t])


def _pick_platform(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    for entry in manifests:  # the registry client makes the same choice
        platform = entry.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return entry
    return manifests[0]


def _verified_layers(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo],
                     layers: list[tuple[str, str | None]]) -> Iterator[BinaryIO]:
    for path, digest in layers:
        member = members.get(path)
        stream = tar.extractfile(member) if member is not None else None
        if stream is None:
            raise DockerSaveError(f"layer {path} is missing from the archive")
        reader = _HashingReader(stream)
        yield reader
        reader.verify(digest, path)


class _HashingReader:
    """Hashes what the layer reader reads; `verify` drains the rest (tar padding) and checks."""

    def __init__(self, stream: BinaryIO):
        self._stream, self._hash = stream, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        return data

    def verify(self, digest: str | None, path: str) -> None:
        while self.read(1024 * 1024):
            pass
        actual = "sha256:" + self._hash.hexdigest()
        if digest and digest.startswith("sha256:") and actual != digest:
            raise DockerSaveError(f"layer {path} is corrupt: its content hashes to {actual}, not {digest}")


def _read_member(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], path: str) -> bytes:
    member = members.get(normalize_path(path))
    handle = tar.extractfile(member) if member is not None else None
    if handle is None:
        raise DockerSaveError(f"{path} is missing from the archive")
    return handle.read()


def _blob_path(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _blob_digest(path: str) -> str | None:
    parts = path.split("/")
    return f"{parts[1]}:{parts[2]}" if len(parts) == 3 and parts[0] == "blobs" else None


def _repository(tags: list[str]) -> str:
    if not tags:
        return ""
    name, _, tag = tags[0].rpartition(":")
    return name if name and "/" not in tag else tags[0]  # "host:5000/x" has no tag


def _seekable(fileobj: BinaryIO) -> bool:
    try:
        return fileobj.seekable()
    except (AttributeError, OSError):
        return False
