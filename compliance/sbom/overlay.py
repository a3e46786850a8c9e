"""The state of an overlay filesystem built layer by layer from entries (read from tars by
`layers.layer_entries`, or kept in a layer record), and the plain data it hands back.
"""
from __future__ import annotations

import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple, Protocol

_MAX_LINK_HOPS = 8


@dataclass(frozen=True)
class LayerFile:
    """A regular file as seen from the top of the image."""

    path: str
    data: bytes
    layer_index: int  # 0-based index of the layer that last wrote it


class LayerVisitor(Protocol):
    """Sees regular files of every layer, including ones a later layer deletes."""

    def wants(self, layer_index: int, path: str, size: int) -> bool:
        """Whether to read this file; asked first so unwanted content is never copied."""

    def visit(self, layer_index: int, path: str, size: int, data: BinaryIO) -> None:
        """Read the file from `data` (forward only, valid during this call only)."""


@dataclass
class LayerScan:
    files: dict[str, LayerFile] = field(default_factory=dict)  # wanted files at the top
    # path -> its copies since it last appeared, oldest first: a whiteout or a replacement
    # by a non-file starts the list again. Only paths present at the top are kept.
    history: dict[str, list[LayerFile]] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)  # every file at the top -> its layer
    # path -> what `mark` said of the entry at the top (any type but symlinks' targets: the
    # entry itself), for the entries it said something of. See `Overlay`.
    marks: dict[str, Any] = field(default_factory=dict)


# (tar entry, its normalised path, its layer) -> something to remember about it, or None.
Marker = Callable[[tarfile.TarInfo, str, int], Any]


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


class Entry(NamedTuple):
    """One tar entry as the overlay applies it, with nothing of the tar left in it, so a layer's
    entries can be kept and applied again later (compliance/sbom/layer_record.py).

    kind: "file", "hardlink", "symlink", "dir", "other" (fifos, devices), "whiteout" (`path` is
    what it deletes) or "opaque" (`path` is the directory whose lower content it hides).
    `target`: a symlink's or hard link's normalised target, only for paths `wanted` accepts.
    `data`: a regular file's content when `wanted` kept it. `mark`: what `Marker` said of it."""

    path: str
    kind: str
    target: str | None = None
    data: bytes | None = None
    mark: Any = None


class Overlay:
    """Tables of the layers below (`files`, `links`, `history`, `index`, `marks`) and of the
    layer being read (`upper_*`). Deletions touch only the lower tables, so whiteouts never hide
    entries of their own layer, whatever the order inside the tar.

    A mark (directories too: a directory entry in an upper layer carries the directory's mode
    from then on, as overlayfs shows it) is kept until a later entry of that path, a whiteout or
    an opaque directory replaces it."""

    def __init__(self, history: Callable[[str], bool], index: bool):
        self.tracks_history, self.tracks_index = history, index
        self.files: dict[str, LayerFile] = {}
        self.links: dict[str, str] = {}  # symlink path -> normalised target path
        self.history: dict[str, list[LayerFile]] = {}
        self.index: dict[str, int] = {}
        self.marks: dict[str, Any] = {}
        # Every directory that holds a lower entry: deleting a subtree scans the tables
        # only when the path is one of them, so the common case costs a dict lookup even
        # with a file index of 100,000 paths.
        self.dirs: set[str] = set()
        self._new_layer()

    def _new_layer(self) -> None:
        self.upper_files: dict[str, LayerFile] = {}
        self.upper_links: dict[str, str] = {}
        self.upper_history: dict[str, LayerFile] = {}
        self.upper_index: dict[str, int] = {}
        self.upper_marks: dict[str, Any] = {}

    def end_layer(self) -> None:
        for path, copy in self.upper_history.items():
            self.history.setdefault(path, []).append(copy)
        for table, upper in ((self.files, self.upper_files), (self.links, self.upper_links),
                             (self.index, self.upper_index), (self.marks, self.upper_marks)):
            for path in upper:
                self._add_parents(path)
            table.update(upper)
        self._new_layer()

    def apply(self, entry: Entry, layer: int) -> None:
        path, kind = entry.path, entry.kind
        if kind == "opaque":
            self._drop_below(path)
            return
        if kind == "whiteout":
            self._drop(path, subtree=True)
            return
        keep = entry.data is not None
        # Any entry replaces the lower one of the same name; a non-directory also replaces a
        # lower directory of that name with everything below it. A new copy of a history
        # file extends its history rather than restarting it.
        self._drop(path, subtree=kind != "dir", keep_history=keep and self.tracks_history(path))
        # A tar may repeat a name: the last entry wins. (Unrolled, as in `_drop`: this runs for
        # every entry of every layer, tens of thousands per image.)
        self.upper_files.pop(path, None)
        self.upper_links.pop(path, None)
        self.upper_history.pop(path, None)
        self.upper_index.pop(path, None)
        self.upper_marks.pop(path, None)
        if entry.mark is not None:
            self.upper_marks[path] = entry.mark
        if kind in ("file", "hardlink") and self.tracks_index:
            self.upper_index[path] = layer
        if keep:
            self.upper_files[path] = LayerFile(path, entry.data, layer)
            if self.tracks_history(path):
                self.upper_history[path] = self.upper_files[path]
        elif kind == "symlink" and entry.target is not None:
            self.upper_links[path] = entry.target
        elif kind == "hardlink" and entry.target is not None:
            # A stream cannot seek back to the link's target: reuse it if we kept it.
            target_file = self.upper_files.get(entry.target)
            if target_file is not None:
                self.upper_files[path] = LayerFile(path, target_file.data, layer)

    def _add_parents(self, path: str) -> None:
        while "/" in path:
            path = path.rpartition("/")[0]
            if path in self.dirs:
                return  # its parents were added with it
            self.dirs.add(path)

    def _tables(self) -> tuple[dict, ...]:
        return self.files, self.links, self.history, self.index, self.marks

    def _drop(self, path: str, *, subtree: bool, keep_history: bool = False) -> None:
        self.files.pop(path, None)
        self.links.pop(path, None)
        if not keep_history:
            self.history.pop(path, None)
        self.index.pop(path, None)
        self.marks.pop(path, None)
        if subtree and path in self.dirs:
            self._drop_below(path)

    def _drop_below(self, directory: str) -> None:
        if directory and directory not in self.dirs:
            return
        prefix = directory + "/" if directory else ""
        for table in self._tables():
            for key in [k for k in table if k.startswith(prefix)]:
                del table[key]

    def result(self) -> LayerScan:
        files = _resolve_symlinks(self.files, self.links)
        history = {path: copies for path, copies in self.history.items() if path in self.files}
        return LayerScan(files=files, history=history, index=self.index, marks=self.marks)


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
