"""Read an image from the registry into `ImageFacts` (OS, dpkg packages, users, config)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from compliance.sbom.dpkg import parse_dpkg_status
from compliance.sbom.layers import LayerFile, merge_layers
from compliance.sbom.models import ImageFacts, Package
from compliance.sbom.os_release import parse_os_release
from compliance.sbom.passwd import parse_passwd

if TYPE_CHECKING:  # importing `portal` at run time would pull in its Celery app
    from portal.registry import BlobStream, RegistryClient

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"
OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")  # etc/ wins, as systemd reads it
PASSWD = "etc/passwd"
_WANTED = {DPKG_STATUS, PASSWD, *OS_RELEASE_PATHS}


def wanted_path(path: str) -> bool:
    """The files `read_image` keeps from the layers."""
    if path in _WANTED:
        return True
    # Distroless keeps one stanza file per package; its *.md5sums siblings are file lists.
    name = path.removeprefix(DPKG_STATUS_D)
    return name != path and name != "" and "/" not in name and not name.endswith(".md5sums")


def read_image(client: RegistryClient, repository: str, reference: str) -> ImageFacts:
    """Facts about `repository:reference` (a tag or a digest), read layer by layer.

    Each layer is streamed, never held whole, and checked against its digest once read.
    """
    manifest, digest = client.manifest(repository, reference)
    config = json.loads(client.blob(repository, manifest["config"]["digest"]))
    layer_digests = [layer["digest"] for layer in manifest.get("layers", [])]
    files = merge_layers(_verified_streams(client, repository, layer_digests), wanted_path)
    return facts_from_files(repository=repository, digest=digest, layer_digests=layer_digests,
                            config=config, files=files)


def facts_from_files(*, repository: str, digest: str, layer_digests: list[str],
                     config: dict[str, Any], files: dict[str, LayerFile]) -> ImageFacts:
    """Pure half of `read_image`: merged files -> facts."""
    os_file = next((files[p] for p in OS_RELEASE_PATHS if p in files), None)
    passwd = files.get(PASSWD)
    return ImageFacts(
        repository=repository,
        digest=digest,
        layer_digests=list(layer_digests),
        config=config,
        os=parse_os_release(_text(os_file)) if os_file else {},
        packages=_packages(files),
        passwd=parse_passwd(_text(passwd)) if passwd else {},
    )


def _packages(files: dict[str, LayerFile]) -> list[Package]:
    found: dict[tuple[str, str, str], Package] = {}
    for path in sorted(files):
        if path == DPKG_STATUS or path.startswith(DPKG_STATUS_D):
            for package in parse_dpkg_status(_text(files[path]), files[path].layer_index):
                # An image with both databases lists a package twice: keep one.
                found.setdefault((package.name, package.architecture, package.version), package)
    return sorted(found.values(), key=lambda p: (p.name, p.architecture, p.version))


def _verified_streams(client: RegistryClient, repository: str, digests: list[str]) -> Iterator[BlobStream]:
    # merge_layers asks for the next layer only once done with the previous one, so the
    # code after `yield` runs exactly when a layer has been read: verify it there.
    for digest in digests:
        with client.open_blob(repository, digest) as stream:
            yield stream
            stream.verify()


def _text(layer_file: LayerFile) -> str:
    return layer_file.data.decode("utf-8", errors="replace")
