"""A build's log: stored in chunks while the build runs (so the page shows it live and nothing is
lost if the worker dies), capped by dropping the oldest chunks, with credentials masked before any
line is stored.

Masking uses the token patterns of the image secret scanner (through compliance's door), plus the
password-in-URL form that download commands print; a private key's lines are masked from its
header to its footer.
"""
import re
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from builds.models import Build, BuildLogChunk
from compliance.door import secret_token_patterns


def log_next_seq(build: Build) -> int:
    last = BuildLogChunk.objects.filter(build=build).order_by("-seq").values_list("seq", flat=True).first()
    return 0 if last is None else last + 1


def build_log_append(*, build: Build, step: str, lines: list[str]) -> None:
    """Store a chunk of log lines and beat the heart. Past the size cap the OLDEST chunks go:
    the end of a log (where builds fail) is what people need."""
    if not lines:
        return
    text = "\n".join(lines) + "\n"
    seq = log_next_seq(build)
    BuildLogChunk.objects.create(build=build, seq=seq, first_line=build.log_lines + 1, step=step, text=text)
    build.log_lines += len(lines)
    build.log_bytes += len(text)
    build.heartbeat = timezone.now()
    if build.log_bytes > settings.BUILD_LOG_MAX_BYTES:
        _log_drop_oldest(build)
    Build.objects.filter(pk=build.pk).update(
        log_lines=build.log_lines, log_bytes=build.log_bytes, heartbeat=build.heartbeat,
        log_dropped_lines=build.log_dropped_lines,
    )


def _log_drop_oldest(build: Build) -> None:
    for chunk in BuildLogChunk.objects.filter(build=build).order_by("seq").only("pk", "text"):
        if build.log_bytes <= settings.BUILD_LOG_MAX_BYTES * 0.9:
            break
        build.log_bytes -= len(chunk.text)
        build.log_dropped_lines += chunk.text.count("\n")
        chunk.delete()


MASK = "****"
_TOKENS = secret_token_patterns()
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]+:)(?P<secret>[^@\s/]+)(?=@)", re.I)
_ASSIGNED = re.compile(r"(?P<head>(?:pass(?:word|wd)?|token|secret|api[_-]?key)[\"']?\s*[=:]\s*[\"']?)(?P<secret>[^\s\"',;]{4,})", re.I)
_KEY_HEADER = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_KEY_FOOTER = re.compile(r"-----END [A-Z ]*PRIVATE KEY-----")


class LogMasker:
    """Stateful across lines, so the body of a private key printed over many lines is masked."""

    def __init__(self):
        self.in_key = False

    def mask(self, line: str) -> str:
        if self.in_key:
            if _KEY_FOOTER.search(line):
                self.in_key = False
                return line if line.strip().startswith("-----END") else MASK
            return MASK
        if _KEY_HEADER.search(line) and not _KEY_FOOTER.search(line):
            self.in_key = True
            return line
        for pattern in _TOKENS:
            line = pattern.sub(lambda m: m.group(0).replace(m.group("secret"), MASK), line)
        line = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, line)
        return _ASSIGNED.sub(lambda m: m.group("head") + MASK, line)


@dataclass
class BuildLog:
    """Buffers log lines and writes them in chunks while the step runs (not at its end).

    Lines arrive on the build thread; the watchdog thread also flushes once a second, so a line
    printed just before a long silent command (a download, a sleep) shows up at once.
    """

    build: Build
    step: str = ""
    pending: list[str] = field(default_factory=list)
    last_flush: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    masker: LogMasker = field(default_factory=LogMasker)

    def line(self, text: str) -> None:
        with self.lock:
            self.pending.append(self.masker.mask(text.rstrip("\r")))
        if len(self.pending) >= 200 or time.monotonic() - self.last_flush > 0.5:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            build_log_append(build=self.build, step=self.step, lines=self.pending)
            self.pending = []
            self.last_flush = time.monotonic()
