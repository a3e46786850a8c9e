"""A layer read once: its record, taken again in place of the layer by every later scan.

Reading an image is a loop over its layers, bottom first, through two image-wide states: the
overlay (`Overlay`: which files are at the top, their history, index and marks) and the
collector (`LayerCollector`: packages, dpkg file lists, and the secret scan). A layer reaches
them only through calls: `Overlay.apply(entry, layer)` once per tar entry, and
`add_package`, `add_file_list` and `SecretScanner.take` once per finding. A `LayerRecord` is
the list of those calls, kept as the layer made them; replaying it makes the same calls in the
same order, so the states end up as reading the layer would have left them. That is why a
record is exact, and it holds as long as three things do:

1. A call's arguments depend on the layer alone, never on the layers below or on the image,
   except for the layer's index. The index appears in exactly two places inside the
   arguments, marks (`SpecialFile.layer_index`) and packages (`Package.layer_index`), which
   `record_bytes` leaves out and `LayerRecord.at` puts back; everywhere else it is passed
   beside the record, as an argument of `apply` or `replay`.
   The one thing that does depend on the layers below is the secret scan's limits (files,
   findings, detect-secrets' bytes): those are applied by `SecretScanner.take`, in the image,
   at replay as at reading. The reader of a layer being recorded therefore scans every
   candidate file up to the per-layer limit, and has detect-secrets read every text that
   would queue, whether this image needs it or not (see `LayerSecretReader`, which also says
   why keeping a layer's findings distinct and capped changes nothing). detect-secrets reads
   each text on its own (a temporary file each), so its answers do not depend on when it runs.
2. The code that made the record is the code that replays it: `layer_recipe` hashes the record
   format, the limits a caller may pass, detect-secrets' version and the source of every module
   a layer's reading goes through; records of another recipe are never read.
3. The record belongs to the bytes it was read from: it is keyed by the layer blob's digest and
   stored only after the blob was checked against it (compliance/sbom/reader.py).

tests/compliance/sbom/test_layer_record.py checks the claim the strong way: records made of each
layer alone, as the only layer of an image, replayed in every combination in tricky stacks, give
the facts of reading every layer, and are byte for byte the records made inside the stack.

A layer whose record would be too big (more than `MAX_RECORD_READ_BYTES` of paths and kept
files, more than `MAX_RECORD_BYTES` compressed, or more detect-secrets text than the scan's
spare budget) is read but not recorded: it is read again by the next scan that meets it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import sys
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import cache
from importlib import import_module
from importlib.metadata import version
from pathlib import Path
from typing import Any, BinaryIO

from compliance.sbom.accounts import ACCOUNT_FILES, without_password_hashes
from compliance.sbom.collect import LayerCollector, LayerFindings
from compliance.sbom.layers import MAX_FILE_SIZE, Entry, Marker, layer_entries
from compliance.sbom.models import Package, SpecialFile
from compliance.sbom.overlay import Overlay
from compliance.sbom.secrets import Hit, LayerSecrets, ScannedFile

RECORD_FORMAT = 1
MAX_RECORD_READ_BYTES = 64 * 1024 * 1024  # paths and kept files held while the layer is read
MAX_RECORD_BYTES = 16 * 1024 * 1024  # one stored record, compressed
_MAX_INFLATED = 4 * MAX_RECORD_READ_BYTES  # what a stored record may inflate to (JSON, base64)
_KIND_CODES = {"file": "f", "hardlink": "h", "symlink": "s", "dir": "d", "other": "o", "whiteout": "w",
               "opaque": "q"}
_KINDS = {code: kind for kind, code in _KIND_CODES.items()}
# Every module whose code decides what a layer's record holds.
_RECORDING_MODULES = ("accounts", "collect", "facts", "java", "layer_record", "layers", "models", "npm", "overlay",
                      "ownership", "python", "secret_rules", "secrets", "special")


class LayerRecordError(ValueError):
    """A stored record that cannot be read back."""


@dataclass
class LayerRecord:
    """The calls one layer made while it was read as layer `layer_index` of an image."""

    layer_index: int
    entries: list[Entry]  # for Overlay.apply, in tar order
    findings: LayerFindings  # for LayerCollector.replay

    def at(self, layer_index: int) -> LayerRecord:
        """The same record for the layer at another position of an image."""
        if layer_index == self.layer_index:
            return self
        entries = [entry._replace(mark=replace(entry.mark, layer_index=layer_index)) if entry.mark is not None
                   else entry for entry in self.entries]
        packages = [(path, replace(package, layer_index=layer_index)) for path, package in self.findings.packages]
        return LayerRecord(layer_index, entries, replace(self.findings, packages=packages))


@cache
def layer_recipe(*, max_secret_files: int) -> str:
    """What a record depends on besides its layer: records of another recipe are never read."""
    digest = hashlib.sha256(f"format {RECORD_FORMAT}; max secret files {max_secret_files}; "
                            f"python {sys.version_info[:2]}; detect-secrets {version('detect-secrets')}".encode())
    for name in _RECORDING_MODULES:
        digest.update(Path(import_module(f"compliance.sbom.{name}").__file__).read_bytes())
    return digest.hexdigest()


def layer_read(stream: BinaryIO, layer_index: int, overlay: Overlay, collector: LayerCollector, *,
               wanted: Callable[[str], bool], mark: Marker, recording: bool) -> LayerRecord | None:
    """Read one layer tar into the image's overlay and collector; its record when `recording`
    (None when it would be too big). Account files are kept without their password hashes."""
    reader = collector.reader(layer_index, recording=recording)
    entries: list[Entry] | None = [] if recording else None
    held = 0
    for entry in layer_entries(stream, layer_index, wanted, visitor=reader, mark=mark, max_file_size=MAX_FILE_SIZE):
        if entry.data is not None and entry.path in ACCOUNT_FILES:
            entry = entry._replace(data=without_password_hashes(entry.data))
        overlay.apply(entry, layer_index)
        if entries is not None:
            entries.append(entry)
            held += len(entry.path) + len(entry.data or b"")
            if held > MAX_RECORD_READ_BYTES:
                entries = None
                reader.stop_recording()
    findings = reader.end()
    if entries is None or findings is None:
        return None
    return LayerRecord(layer_index, entries, findings)


def layer_replay(record: LayerRecord, overlay: Overlay, collector: LayerCollector) -> None:
    """Make the calls reading the layer made, at the record's layer index."""
    for entry in record.entries:
        overlay.apply(entry, record.layer_index)
    collector.replay(record.layer_index, record.findings)


# -- stored form: JSON, zlib-compressed, without the layer index ----------------------------
def record_bytes(record: LayerRecord) -> bytes | None:
    """The record as stored, or None when it would be bigger than `MAX_RECORD_BYTES`."""
    entries = record.entries
    body = {
        "format": RECORD_FORMAT,
        # Columns: most entries are a path and a kind, the rest say more (`extras`).
        "paths": [entry.path for entry in entries],
        "kinds": "".join([_KIND_CODES[entry.kind] for entry in entries]),
        "extras": [[number, *_entry_extra(entry)] for number, entry in enumerate(entries)
                   if entry.target is not None or entry.data is not None or entry.mark is not None],
        "packages": [[path, _package_row(package)] for path, package in record.findings.packages],
        "file_lists": [[path, sorted(owned)] for path, owned in record.findings.file_lists],
        "candidates": record.findings.secrets.candidates,
        "scanned": [[position, _scanned_row(scanned)] for position, scanned in record.findings.secrets.scanned],
    }
    # Level 1: a tenth of level 6's time (on the scan's path) for a record about 15% bigger.
    stored = zlib.compress(json.dumps(body, separators=(",", ":")).encode("ascii"), 1)
    return stored if len(stored) <= MAX_RECORD_BYTES else None


def record_load(stored: bytes, layer_index: int = 0) -> LayerRecord:
    """A stored record, for the layer at `layer_index`."""
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(stored, _MAX_INFLATED)
        if inflater.unconsumed_tail or not inflater.eof:
            raise LayerRecordError("the layer record is truncated or too big")
        body = json.loads(raw)
        if body.get("format") != RECORD_FORMAT:
            raise LayerRecordError(f"layer record format {body.get('format')!r}, not {RECORD_FORMAT}")
        secrets = LayerSecrets(body["candidates"], [(position, _scanned(row)) for position, row in body["scanned"]])
        findings = LayerFindings(
            packages=[(path, Package(**fields, layer_index=layer_index)) for path, fields in body["packages"]],
            file_lists=[(path, frozenset(owned)) for path, owned in body["file_lists"]], secrets=secrets)
        kinds = [_KINDS[code] for code in body["kinds"]]
        make = Entry._make  # a third of the time Entry(...) takes, for tens of thousands of entries
        entries = [make((path, kind, None, None, None)) for path, kind in zip(body["paths"], kinds, strict=True)]
        for number, target, data, mark in body["extras"]:
            entries[number] = _entry(entries[number], target, data, mark, layer_index)
        return LayerRecord(layer_index, entries, findings)
    except (zlib.error, ValueError, KeyError, TypeError) as error:
        if isinstance(error, LayerRecordError):
            raise
        raise LayerRecordError(f"unreadable layer record: {error!r}") from error


def _entry_extra(entry: Entry) -> list[Any]:
    mark = entry.mark
    if mark is not None and not isinstance(mark, SpecialFile):
        raise TypeError(f"a layer record keeps SpecialFile marks only, not {type(mark).__name__}")
    return [entry.target, None if entry.data is None else base64.b64encode(entry.data).decode("ascii"),
            None if mark is None else [mark.type, mark.mode, mark.uid, mark.gid, mark.capabilities]]


def _entry(entry: Entry, target: str | None, data: str | None, mark: list[Any] | None, layer_index: int) -> Entry:
    return entry._replace(
        target=target, data=None if data is None else base64.b64decode(data, validate=True),
        mark=None if mark is None else SpecialFile(path=entry.path, layer_index=layer_index, type=mark[0], mode=mark[1],
                                                   uid=mark[2], gid=mark[3], capabilities=mark[4]))


def _package_row(package: Package) -> dict[str, Any]:
    fields = asdict(package)
    del fields["layer_index"]
    return fields


def _scanned_row(scanned: ScannedFile) -> list[Any]:
    if scanned.queued and scanned.detected is None:
        raise ValueError(f"{scanned.path}: detect-secrets has not read it, the record would be incomplete")
    return [scanned.path, [list(hit) for hit in scanned.hits], scanned.overflow, scanned.queued,
            None if scanned.detected is None else [list(hit) for hit in scanned.detected]]


def _scanned(row: list[Any]) -> ScannedFile:
    path, hits, overflow, queued, detected = row
    return ScannedFile(path, [Hit(*hit) for hit in hits], overflow, queued,
                       None if detected is None else [Hit(*hit) for hit in detected])
