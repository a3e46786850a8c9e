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
from dataclasses import replace
from functools import cache
from typing import Any, BinaryIO, NamedTuple

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


class _Queued(NamedTuple):
    where: Where
    path: str
    layer_index: int | None
    text: str


class SecretScanner:
    """A `LayerVisitor` over every layer, and the config scan; `finish` gives the findings.

    Bounded: files above 1 MiB, binary files and `NOISE_PATHS` are skipped; after
    `max_files` files, or `MAX_FINDINGS` findings, the scan stops and `truncated` says so.
    """

    def __init__(self, *, max_files: int = MAX_FILES):
        self.max_files = max_files
        self.files_scanned = 0
        self.truncated = False
        self._found: dict[tuple, SecretFinding] = {}
        self._queue: list[_Queued] = []
        self._queued_bytes = 0

    def wants(self, layer_index: int, path: str, size: int) -> bool:
        if not 0 < size <= MAX_FILE_SIZE or NOISE_PATHS.search(path):
            return False
        if self.files_scanned >= self.max_files:
            self.truncated = True
            return False
        return True

    def visit(self, layer_index: int, path: str, size: int, data: BinaryIO) -> None:
        head = data.read(BINARY_PROBE)  # a binary's remaining megabyte is never copied
        self.scan_file(layer_index, path, head if b"\0" in head else head + data.read(MAX_FILE_SIZE - len(head)))

    def scan_file(self, layer_index: int, path: str, content: bytes) -> None:
        self.files_scanned += 1
        if b"\0" not in content[:BINARY_PROBE]:
            self._scan(content, "file", path, layer_index, config=is_config_file(path))

    def scan_config(self, config: dict[str, Any]) -> None:
        """ENV values, labels and the build history: `docker history` shows them to anyone."""
        settings = config.get("config") or {}
        for item in settings.get("Env") or []:
            self._scan(str(item).encode(), "env", str(item).partition("=")[0], None, config=True)
        for key, value in (settings.get("Labels") or {}).items():
            self._scan(f"{key}={value}".encode(), "label", str(key), None, config=True)
        layer = -1
        for number, step in enumerate(config.get("history") or []):
            if not step.get("empty_layer"):
                layer += 1  # only steps that made a layer have one; ENV and LABEL steps don't
            self._scan(str(step.get("created_by") or "").encode(), "history", f"history/{number}",
                       None if step.get("empty_layer") else layer, config=True)

    def finish(self, index: Mapping[str, int] | None = None) -> list[SecretFinding]:
        """All findings; `index` (path -> layer of the file at the top) tells deleted copies."""
        texts = [(q.path, q.text) for q in self._queue]
        for queued, detected in zip(self._queue, detect_secrets_scan(texts, plugins=FILE_DETECTORS)):
            for found in detected:
                # detect-secrets has no placeholder filter for URLs: pip's vendored urllib3
                # documents `http://username:password@host.com`, which would block every image with pip.
                if found.value and not is_placeholder(found.value):
                    self._add(queued.where, queued.path, queued.layer_index, rule_name(found.type),
                              found.value, found.line)
        self._queue, self._queued_bytes = [], 0
        findings = [replace(f, deleted_in_later_layer=f.where == "file" and index is not None
                            and index.get(f.path) != f.layer_index) for f in self._found.values()]
        return sorted(findings, key=lambda f: (f.where, f.path, -1 if f.layer_index is None else f.layer_index,
                                               f.line, f.rule))

    def _scan(self, content: bytes, where: Where, path: str, layer_index: int | None, *, config: bool) -> None:
        names = cued(content, config=config)
        if not names:
            return  # most files: a few searches at memory speed and nothing else
        text = content.decode("utf-8", errors="replace")
        for rule in RULES:
            if rule.name in names:
                for match in rule.pattern.finditer(text):
                    value = rule.value(match, text)
                    if value:
                        self._add(where, path, layer_index, rule.name, value, text.count("\n", 0, match.start()) + 1)
        # Only texts a detector's own pattern matches wait for detect-secrets (and its filters).
        patterns = _detector_patterns()
        if any(p.search(text) for name in FILE_DETECTORS if name in names for p in patterns[name]):
            if self._queued_bytes + len(content) > MAX_QUEUED_BYTES:
                self.truncated = True
                return
            self._queue.append(_Queued(where, path, layer_index, text))
            self._queued_bytes += len(content)

    def _add(self, where: Where, path: str, layer_index: int | None, rule: str, secret: str, line: int) -> None:
        key = (where, path, layer_index, line, rule)  # ours and detect-secrets' agree: one finding
        if key in self._found:
            return
        if len(self._found) >= MAX_FINDINGS:
            self.truncated = True
            return
        self._found[key] = SecretFinding(path=path, layer_index=layer_index, rule=rule,
                                         fingerprint=fingerprint(secret), line=line, where=where)

