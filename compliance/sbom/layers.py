"""Merge image layers (tar streams, bottom layer first) into the few files we need.

This is what an overlay filesystem would show at the top layer, restricted to the paths
`wanted` accepts, computed in one streaming pass per layer (layers can be gigabytes; only
the wanted files are held in memory). The same pass can also keep every layer's copy of
a few files (`history`), list which layer added each file of the final image (`index`),
show every regular file of every layer to a visitor (secret scanning, archives), and keep
what a `mark` says of any entry still at the top (the mode bits and xattrs of special files).
"""
from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from compliance.sbom.overlay import Entry, LayerFile, LayerScan, LayerVisitor, Marker, Overlay, normalize_path

__all__ = ["Entry", "LayerError", "LayerFile", "LayerScan", "LayerVisitor", "MAX_FILE_SIZE", "Marker",
           "layer_entries", "merge_layers", "normalize_path", "scan_layers"]

MAX_FILE_SIZE = 16 * 1024 * 1024
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


class LayerError(ValueError):
    """A layer is not a readable tar (or compressed tar)."""


def merge_layers(layers: Iterable[BinaryIO], wanted: Callable[[str], bool], *,
                 max_file_size: int = MAX_FILE_SIZE) -> dict[str, LayerFile]:
    """Regular files of the merged image for which `wanted(path)` is true, keyed by path.

    Whiteouts apply in layer order and only to LOWER layers: `dir/.wh.NAME` deletes NAME
    (a whole subtree if it was a directory), `dir/.wh..wh..opq` hides everything lower
    below `dir`. Files above `max_file_size` are skipped (and still hide lower copies).
    A wanted symlink is resolved at the end, but only to a file that was itself wanted
    (e.g. `etc/os-release -> ../usr/lib/os-release` when both are wanted); a hard link
    only to a wanted file earlier in the same layer. Symlinked parent directories are
    not followed.
    """
    return scan_layers(layers, wanted, max_file_size=max_file_size).files


def scan_layers(layers: Iterable[BinaryIO], wanted: Callable[[str], bool], *,
                history: Callable[[str], bool] | None = None, index: bool = False,
                visitor: LayerVisitor | None = None, mark: Marker | None = None,
                max_file_size: int = MAX_FILE_SIZE) -> LayerScan:
    """`merge_layers` plus, on request, per-layer copies of the `history` paths (each also
    needs to be `wanted`), the file index (paths and ints only, so bounded by the number
    of files, not their size), a `visitor` called on every regular file of every layer, and
    `marks`: what `mark` said of each entry (of any type) that is still at the top.
    Hard links are indexed but not visited: their content went by under the target name.
    """
    state = Overlay(history or (lambda path: False), index)
    for layer_index, stream in enumerate(layers):
        for entry in layer_entries(stream, layer_index, wanted, visitor=visitor, mark=mark,
                                   max_file_size=max_file_size):
            state.apply(entry, layer_index)
        state.end_layer()
    return state.result()


def layer_entries(stream: BinaryIO, layer_index: int, wanted: Callable[[str], bool], *,
                  visitor: LayerVisitor | None = None, mark: Marker | None = None,
                  max_file_size: int = MAX_FILE_SIZE) -> Iterator[Entry]:
    """The entries of one layer tar, in tar order, for `Overlay.apply`; the visitor sees each
    regular file as it streams by."""
    try:
        # "r|*" streams forward only and detects gzip/bzip2/xz from the magic bytes,
        # so compressed and plain layers go through the same call.
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                entry = _entry(tar, member, layer_index, wanted, visitor, mark, max_file_size)
                if entry is not None:
                    yield entry
    except tarfile.ReadError as exc:
        if "empty file" not in str(exc):  # a zero-byte blob is an empty layer
            raise LayerError(f"layer {layer_index} is not a readable tar: {exc}") from exc
    except (tarfile.TarError, EOFError) as exc:
        raise LayerError(f"layer {layer_index} is not a readable tar: {exc}") from exc


def _entry(tar: tarfile.TarFile, member: tarfile.TarInfo, layer: int, wanted: Callable[[str], bool],
           visitor: LayerVisitor | None, mark: Marker | None, max_file_size: int) -> Entry | None:
    path = normalize_path(member.name)
    if not path:
        return None  # the layer's root directory entry
    parent, base = posixpath.split(path)
    if base == _OPAQUE:
        return Entry(parent, "opaque")
    if base.startswith(_WHITEOUT):
        if base.startswith(_WHITEOUT + _WHITEOUT):  # other .wh..wh.* are AUFS bookkeeping
            return None
        return Entry(posixpath.join(parent, base[len(_WHITEOUT):]), "whiteout")
    marked = mark(member, path, layer) if mark is not None else None
    if member.isreg():
        keep = wanted(path) and member.size <= max_file_size
        return Entry(path, "file", None, _read(tar, member, path, layer, keep, visitor), marked)
    if member.issym():
        link = member.linkname if member.linkname.startswith("/") else f"{parent}/{member.linkname}"
        return Entry(path, "symlink", normalize_path(link) if wanted(path) else None, None, marked)
    if member.islnk():
        return Entry(path, "hardlink", normalize_path(member.linkname) if wanted(path) else None, None, marked)
    return Entry(path, "dir" if member.isdir() else "other", None, None, marked)


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, layer: int, keep: bool,
          visitor: LayerVisitor | None) -> bytes | None:
    """The file's content when `keep`; shows the file to the visitor if it wants it."""
    visit = visitor is not None and visitor.wants(layer, path, member.size)
    if not (keep or visit):
        return None
    extracted = tar.extractfile(member)
    if extracted is None:
        return None
    data = None
    if keep:  # read once, shared with the visitor: the stream cannot be rewound
        data = extracted.read()
        extracted = io.BytesIO(data)
    if visit:
        visitor.visit(layer, path, member.size, extracted)
    return data
