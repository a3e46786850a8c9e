"""Secrets baked into an image: in the files of EVERY layer and in the image config.

A file deleted by a later layer is gone from the container but not from the image: its
layer blob still holds it, and anyone who can pull can read it. So each layer is scanned
as it streams by, and a finding is marked `deleted_in_later_layer` when the top of the
image no longer shows that copy.

Findings come from our own rules and from detect-secrets (see `secret_rules` for which
detectors and why). Nothing here stores or logs a secret: a finding carries a short
sha256 prefix of it, and the only copies live in memory and in private temp files
detect-secrets reads.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, NamedTuple

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import scan_file
from detect_secrets.settings import transient_settings

from compliance.sbom.models import SecretFinding, Where
from compliance.sbom.secret_rules import FILE_DETECTORS, NOISE_PATHS, RULES, cued, is_config_file, is_placeholder, rule_name

MAX_FILE_SIZE = 1024 * 1024  # configs and keys are small; big text files are logs and data
BINARY_PROBE = 8 * 1024  # a NUL byte in the first 8 KiB means binary, as git and grep decide
MAX_FILES = 20_000
MAX_FINDINGS = 1_000
MAX_QUEUED_BYTES = 64 * 1024 * 1024  # texts waiting for detect-secrets, held in memory
_DETECT_SECRETS_LOCK = threading.Lock()  # its settings are process-global
_DETECT_SECRETS_LOG = logging.getLogger("detect-secrets")


class Detected(NamedTuple):
    line: int
    type: str  # detect-secrets' name for the detector, e.g. "AWS Access Key"
    value: str


def fingerprint(secret: str) -> str:
    """48 bits of sha256: enough to tell two secrets apart or match a known leak, nothing
    of a random token. A guessable password can still be confirmed by hashing guesses."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", errors="replace")).hexdigest()[:12]


def detect_secrets_scan(texts: Sequence[tuple[str, str]], *, plugins: Iterable[str]) -> list[list[Detected]]:
    """detect-secrets findings in each (file name, content) of `texts`, by index.

    `scan_line`, its API for text not on disk, skips the false-positive filters and is
    noisy, so each text goes through `scan_file` on a private temp file named like the
    original (some filters look at the name). `scan_file` reports every occurrence,
    where a SecretsCollection would keep one per distinct value.
    """
    results: list[list[Detected]] = [[] for _ in texts]
    if not texts:
        return results
    settings = {"plugins_used": [{"name": name} for name in plugins]}
    # Its filters log each candidate they drop at INFO, meant to include the value (1.5.0
    # garbles the message; a fixed one would not): keep that logger above INFO whatever
    # logging configuration the process was given.
    _DETECT_SECRETS_LOG.setLevel(max(_DETECT_SECRETS_LOG.level, logging.WARNING))
    with _DETECT_SECRETS_LOCK, tempfile.TemporaryDirectory() as tmp:  # mkdtemp: mode 0700
        paths = []
        for number, (name, content) in enumerate(texts):
            os.mkdir(os.path.join(tmp, str(number)))
            paths.append(os.path.join(tmp, str(number), os.path.basename(name)[-100:] or "text"))
            with open(paths[-1], "w", encoding="utf-8") as handle:
                handle.write(content)
        with transient_settings(settings):
            for number, path in enumerate(paths):
                results[number] = [Detected(s.line_number, s.type, s.secret_value or "") for s in scan_file(path)]
    return results


@cache
def _detector_patterns() -> dict[str, list[Any]]:
    by_name = {cls.__name__: cls for cls in get_mapping_from_secret_type_to_class().values()}
    return {name: list(by_name[name]().denylist) for name in FILE_DETECTORS}


class Hit(NamedTuple):
    """One secret a scan found in a text: which rule, the fingerprint, the line (never the value)."""

    rule: str
    fingerprint: str
    line: int


@dataclass(eq=True)
class ScannedFile:
    """What the scan of one text (a file, an ENV value...) found, with nothing of its layer in it,
    so a layer record can keep it. `hits`: our rules' findings; `overflow`: more were cut (see
    `LayerSecretReader`); `queued`: bytes detect-secrets must also read (0: none); `detected`: what
    it found there, once it ran. `text` waits for detect-secrets in memory only, never stored."""

    path: str
    hits: list[Hit] = field(default_factory=list)
    overflow: bool = False
    queued: int = 0
    detected: list[Hit] | None = None
    text: str | None = field(default=None, compare=False, repr=False)


class _Queued(NamedTuple):
    where: Where
    path: str
    layer_index: int | None
    scanned: ScannedFile


def is_candidate(path: str, size: int) -> bool:
    """A file the scan reads when the file limit allows: small enough, and not a noise path."""
    return 0 < size <= MAX_FILE_SIZE and not NOISE_PATHS.search(path)


def text_scan(path: str, content: bytes, *, config: bool) -> ScannedFile:
    """Our rules' hits in `content`, and its text when detect-secrets must read it too. Pure."""
    names = cued(content, config=config)
    if not names:
        return ScannedFile(path)  # most files: a few searches at memory speed and nothing else
    text = content.decode("utf-8", errors="replace")
    hits = []
    for rule in RULES:
        if rule.name in names:
            for match in rule.pattern.finditer(text):
                value = rule.value(match, text)
                if value:
                    hits.append(Hit(rule.name, fingerprint(value), text.count("\n", 0, match.start()) + 1))
    # Only texts a detector's own pattern matches wait for detect-secrets (and its filters).
    patterns = _detector_patterns()
    if any(p.search(text) for name in FILE_DETECTORS if name in names for p in patterns[name]):
        return ScannedFile(path, hits, queued=len(content), text=text)
    return ScannedFile(path, hits)


def detect_resolve(scanned: Sequence[ScannedFile]) -> None:
    """Run detect-secrets on the texts waiting in `scanned`: each gets its `detected` hits (a
    placeholder value is no secret) and lets go of its text."""
    waiting = [s for s in scanned if s.detected is None and s.text is not None]
    found = detect_secrets_scan([(s.path, s.text) for s in waiting], plugins=FILE_DETECTORS)
    for item, detected in zip(waiting, found):
        # detect-secrets has no placeholder filter for URLs: pip's vendored urllib3 documents
        # `http://username:password@host.com`, which would block every image with pip.
        item.detected = [Hit(rule_name(d.type), fingerprint(d.value), d.line)
                         for d in detected if d.value and not is_placeholder(d.value)]
        item.text = None


class SecretScanner:
    """The secret scan of a whole image: every layer's scanned files (`take`, bottom layer first),
    the config (`scan_config`), and the findings (`finish`).

    Bounded: files above 1 MiB, binary files and `NOISE_PATHS` are skipped; after
    `max_files` files, or `MAX_FINDINGS` findings, the scan stops and `truncated` says so;
    detect-secrets reads at most `MAX_QUEUED_BYTES` of text for the image, plus as much again
    for texts only layer records need (`record_bytes_left`).
    """

    def __init__(self, *, max_files: int = MAX_FILES):
        self.max_files = max_files
        self.files_scanned = 0
        self.truncated = False
        self.record_bytes_left = MAX_QUEUED_BYTES
        self._found: dict[tuple, SecretFinding] = {}
        self._queue: list[_Queued] = []
        self._queued_bytes = 0

    def at_file_limit(self) -> bool:
        return self.files_scanned >= self.max_files

    def take(self, layer_index: int, scanned: ScannedFile | None) -> bool:
        """The next candidate file of the image (None: it had nothing to say, or was not read
        because the limit was reached anyway). True when its text now waits for detect-secrets."""
        if self.at_file_limit():
            self.truncated = True
            return False
        self.files_scanned += 1
        return scanned is not None and self._take("file", layer_index, scanned)

    def scan_config(self, config: dict[str, Any]) -> None:
        """ENV values, labels and the build history: `docker history` shows them to anyone."""
        settings = config.get("config") or {}
        for item in settings.get("Env") or []:
            name = str(item).partition("=")[0]
            self._take("env", None, text_scan(name, str(item).encode(), config=True))
        for key, value in (settings.get("Labels") or {}).items():
            self._take("label", None, text_scan(str(key), f"{key}={value}".encode(), config=True))
        layer = -1
        for number, step in enumerate(config.get("history") or []):
            if not step.get("empty_layer"):
                layer += 1  # only steps that made a layer have one; ENV and LABEL steps don't
            self._take("history", None if step.get("empty_layer") else layer,
                       text_scan(f"history/{number}", str(step.get("created_by") or "").encode(), config=True))

    def finish(self, index: Mapping[str, int] | None = None) -> list[SecretFinding]:
        """All findings; `index` (path -> layer of the file at the top) tells deleted copies."""
        detect_resolve([queued.scanned for queued in self._queue])
        for queued in self._queue:
            for hit in queued.scanned.detected or ():
                self._add(queued.where, queued.path, queued.layer_index, hit)
        self._queue, self._queued_bytes = [], 0
        findings = [replace(f, deleted_in_later_layer=f.where == "file" and index is not None
                            and index.get(f.path) != f.layer_index) for f in self._found.values()]
        return sorted(findings, key=lambda f: (f.where, f.path, -1 if f.layer_index is None else f.layer_index,
                                               f.line, f.rule))

    def _take(self, where: Where, layer_index: int | None, scanned: ScannedFile) -> bool:
        for hit in scanned.hits:
            self._add(where, scanned.path, layer_index, hit)
        if scanned.overflow:
            self.truncated = True
        if not scanned.queued:
            return False
        if self._queued_bytes + scanned.queued > MAX_QUEUED_BYTES:
            self.truncated = True
            return False
        self._queue.append(_Queued(where, scanned.path, layer_index, scanned))
        self._queued_bytes += scanned.queued
        return True

    def _add(self, where: Where, path: str, layer_index: int | None, hit: Hit) -> None:
        key = (where, path, layer_index, hit.line, hit.rule)  # ours and detect-secrets' agree: one finding
        if key in self._found:
            return
        if len(self._found) >= MAX_FINDINGS:
            self.truncated = True
            return
        self._found[key] = SecretFinding(path=path, layer_index=layer_index, rule=hit.rule,
                                         fingerprint=hit.fingerprint, line=hit.line, where=where)


@dataclass
class LayerSecrets:
    """The secret scan of one layer, as its record keeps it: how many candidate files the layer
    has, and what each one with something to say found, by its position among them."""

    candidates: int = 0
    scanned: list[tuple[int, ScannedFile]] = field(default_factory=list)

    def replay(self, scanner: SecretScanner, layer_index: int) -> None:
        """Hand the layer's files to `scanner` exactly as `LayerSecretReader` did."""
        by_position = dict(self.scanned)
        for position in range(self.candidates):
            scanner.take(layer_index, by_position.get(position))


class LayerSecretReader:
    """The secret scan of one layer tar as it streams by: each candidate file goes to the image's
    `scanner` at once (whose limits depend on the layers below) and, when `recording`, into a
    `LayerSecrets` that does not depend on them: the record must serve this layer at any position
    in any image. So while recording, a candidate is scanned even past the image's file limit (up
    to `max_files` per layer: a layer's later candidates are never read by any image), and
    detect-secrets also reads texts the image's own queue had no room for. Our rules' hits are
    kept distinct within the layer, at most `MAX_FINDINGS` of them: a later new one can never be
    added (the layer's first `MAX_FINDINGS` distinct findings filled the image's table), so it
    only marks the file `overflow`, which truncates the scan as adding it would have.
    `stop_recording` gives up the record (too big), never the scan."""

    def __init__(self, scanner: SecretScanner, layer_index: int, *, recording: bool):
        self.scanner, self.layer_index = scanner, layer_index
        self.record: LayerSecrets | None = LayerSecrets() if recording else None
        self._candidates = 0
        self._keys: set[tuple[str, int, str]] = set()
        self._queued: list[ScannedFile] = []  # texts in the image's detect-secrets queue
        self._recorded: list[ScannedFile] = []  # texts only the record needs read

    def wants(self, path: str, size: int) -> bool:
        """Whether to read this file (asked once per regular file, in tar order)."""
        if not is_candidate(path, size):
            return False
        position = self._candidates
        self._candidates += 1
        if self.record is not None:
            self.record.candidates = self._candidates
        if position < self.scanner.max_files and (self.record is not None or not self.scanner.at_file_limit()):
            return True
        self.scanner.take(self.layer_index, None)  # past the limit: noted as truncated, never read
        return False

    def scan(self, path: str, content: bytes) -> None:
        """The content (up to `MAX_FILE_SIZE`) of the file `wants` accepted last."""
        scanned = None
        if b"\0" not in content[:BINARY_PROBE]:
            scanned = text_scan(path, content, config=is_config_file(path))
            scanned.hits, scanned.overflow = self._distinct(path, scanned.hits)
        if scanned is None or not (scanned.hits or scanned.overflow or scanned.queued):
            self.scanner.take(self.layer_index, None)  # counted, nothing to say
            return
        if self.scanner.take(self.layer_index, scanned):
            self._queued.append(scanned)
        elif scanned.text is not None:
            if self.record is not None and self.scanner.record_bytes_left >= scanned.queued:
                self.scanner.record_bytes_left -= scanned.queued
                self._recorded.append(scanned)
            else:
                self.stop_recording()
                scanned.text = None
        if self.record is not None:
            self.record.scanned.append((self._candidates - 1, scanned))

    def stop_recording(self) -> None:
        for scanned in self._recorded:
            scanned.text = None
        self.record, self._recorded = None, []

    def end(self) -> LayerSecrets | None:
        """Once the layer was read: detect-secrets reads the layer's waiting texts; the record."""
        detect_resolve(self._queued + self._recorded)
        self._queued, self._recorded = [], []
        return self.record

    def _distinct(self, path: str, hits: list[Hit]) -> tuple[list[Hit], bool]:
        kept, overflow = [], False
        for hit in hits:
            key = (path, hit.line, hit.rule)
            if key in self._keys:
                continue  # the image's table has it already, or was full when it came
            if len(self._keys) >= MAX_FINDINGS:
                overflow = True
                continue
            self._keys.add(key)
            kept.append(hit)
        return kept, overflow
