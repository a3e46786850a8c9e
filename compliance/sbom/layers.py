"""Merge image layers (tar streams, bottom layer first) into the few files we need.

This is what an overlay filesystem would show at the top layer, restricted to the paths
`wanted` accepts, computed in one streaming pass per layer (layers can be gigabytes; only
the wanted files are held in memory).
"""
from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

MAX_FILE_SIZE = 16 * 1024 * 1024
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_MAX_LINK_HOPS = 8


@dataclass(frozen=True)
class LayerFile:
    """A regular file as seen from the top of the image."""

    path: str
    data: bytes
    layer_index: int  # 0-based index of the layer that last wrote it


class LayerError(ValueError):
    """A layer is not a readable tar (or compressed tar)."""


def normalize_path(name: str) -> str:
    """One spelling per path: `./etc/x`, `/etc/x` and `etc/x` are all `etc/x`; root is ''."""
    parts: list[str] = []
    for part in name.split("/"):
        if part == "..":
            if parts:  # ".." at the root stays at the root, as in a real filesystem
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


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
    files: dict[str, LayerFile] = {}
    links: dict[str, str] = {}  # symlink path -> normalised target path
    for index, stream in enumerate(layers):
        upper_files: dict[str, LayerFile] = {}
        upper_links: dict[str, str] = {}
        try:
            # "r|*" streams forward only and detects gzip/bzip2/xz from the magic bytes,
            # so compressed and plain layers go through the same call.
            with tarfile.open(fileobj=stream, mode="r|*") as tar:
                for member in tar:
                    _apply(tar, member, index, wanted, max_file_size,
                           lower=(files, links), upper_files=upper_files, upper_links=upper_links)
        except tarfile.ReadError as exc:
            if "empty file" not in str(exc):  # a zero-byte blob is an empty layer
                raise LayerError(f"layer {index} is not a readable tar: {exc}") from exc
        except (tarfile.TarError, EOFError) as exc:
            raise LayerError(f"layer {index} is not a readable tar: {exc}") from exc
        files.update(upper_files)
        links.update(upper_links)
    return _resolve_symlinks(files, links)


def _apply(tar: tarfile.TarFile, member: tarfile.TarInfo, index: int, wanted: Callable[[str], bool],
           max_file_size: int, *, lower: tuple[dict, dict], upper_files: dict[str, LayerFile],
           upper_links: dict[str, str]) -> None:
    """Fold one tar entry of layer `index` into the state. Deletions touch only `lower`,
    so whiteouts never hide entries of their own layer, whatever the order inside the tar."""
    path = normalize_path(member.name)
    if not path:
        return  # the layer's root directory entry
    parent, base = posixpath.split(path)
    if base == _OPAQUE:
        _drop_below(lower, parent)
        return
    if base.startswith(_WHITEOUT):
        if not base.startswith(_WHITEOUT + _WHITEOUT):  # other .wh..wh.* are AUFS bookkeeping
            _drop(lower, posixpath.join(parent, base[len(_WHITEOUT):]), subtree=True)
        return
    # Any entry replaces the lower one of the same name; a non-directory also replaces a
    # lower directory of that name with everything below it.
    _drop(lower, path, subtree=not member.isdir())
    upper_files.pop(path, None)  # a tar may repeat a name: the last entry wins
    upper_links.pop(path, None)
    if not wanted(path):
        return
    if member.isreg() and member.size <= max_file_size:
        extracted = tar.extractfile(member)
        if extracted is not None:
            upper_files[path] = LayerFile(path, extracted.read(), index)
    elif member.issym():
        target = member.linkname if member.linkname.startswith("/") else f"{parent}/{member.linkname}"
        upper_links[path] = normalize_path(target)
    elif member.islnk():
        # A stream cannot seek back to the link's target: reuse it if we kept it.
        target_file = upper_files.get(normalize_path(member.linkname))
        if target_file is not None:
            upper_files[path] = LayerFile(path, target_file.data, index)


def _drop(lower: tuple[dict, dict], path: str, *, subtree: bool) -> None:
    prefix = path + "/"
    for table in lower:
        for key in [k for k in table if k == path or (subtree and k.startswith(prefix))]:
            del table[key]


def _drop_below(lower: tuple[dict, dict], directory: str) -> None:
    prefix = directory + "/" if directory else ""
    for table in lower:
        for key in [k for k in table if k.startswith(prefix)]:
            del table[key]


def _resolve_symlinks(files: dict[str, LayerFile], links: dict[str, str]) -> dict[str, LayerFile]:
    result = dict(files)
    for path in links:
        target = path
        for _ in range(_MAX_LINK_HOPS):  # bounded: images can contain link loops
            if target not in links:
                break
            target = links[target]
        if target in files:
            result[path] = LayerFile(path, files[target].data, files[target].layer_index)
    return result
