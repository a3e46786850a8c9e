"""A build's log: stored in chunks while the build runs (so the page shows it live and nothing is
lost if the worker dies), capped by dropping the oldest chunks, with credentials masked before any
line is stored.

Masking uses the token patterns of the image secret scanner (through compliance's door), plus the
password-in-URL form that download commands print; a private key's lines are masked from its
header to its footer. The legacy builder echoes each Dockerfile step ("Step 3/7 : ENV
API_TOKEN=..."): the value of an ENV, ARG or LABEL whose name says it holds a credential
(PASSWORD, TOKEN, SECRET, KEY...) is masked whatever it looks like, unless it cannot be one (a
path, a ${VARIABLE}, true/false), as the no-secrets-in-env rule reads names.
"""
import logging
import re
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builds.models import Build, BuildLogChunk
from compliance.door import secret_token_patterns
from portal.db_retry import CONNECTION_ERRORS, connection_drop

log = logging.getLogger(__name__)


def log_next_seq(build: Build) -> int:
    last = BuildLogChunk.objects.filter(build=build).order_by("-seq").values_list("seq", flat=True).first()
    return 0 if last is None else last + 1


def build_log_append(*, build: Build, step: str, lines: list[str]) -> None:
    """Store a chunk of log lines and beat the heart. Past the size cap the OLDEST chunks go:
    the end of a log (where builds fail) is what people need."""
    if not lines:
        return
    text = "\n".join(lines) + "\n"
    # All or nothing: a write the database loses halfway (a restart) leaves neither a chunk nor
    # counters that moved, so the same lines can be written again without a gap or a duplicate.
    before = (build.log_lines, build.log_bytes, build.log_dropped_lines, build.heartbeat)
    try:
        with transaction.atomic():
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
    except Exception:
        build.log_lines, build.log_bytes, build.log_dropped_lines, build.heartbeat = before
        raise


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
# "Step 3/7 : ENV A=1 B_TOKEN="x y"", "Step 2/7 : ARG PASSWORD=x", "Step 4/7 : ENV API_KEY legacy form".
_STEP_ASSIGNMENTS = re.compile(r"^(?P<head>Step \d+/\d+ : (?P<instruction>ENV|ARG|LABEL)\s+)(?P<rest>.*)$", re.I)
_ASSIGNMENT = re.compile(r"""(?P<name>[^\s=]+)=(?P<value>"(?:[^"\\]|\\.)*"?|'[^']*'?|(?:\\.|[^\s\\])*)""")
# A name's words (DB_PASSWORD, dbPassword, db-password, db.password alike) that say "credential".
_CREDENTIAL_WORD = re.compile(r"(?:^|_)(?:PASS|PASSWORD|PASSWD|PASSPHRASE|PWD|TOKEN|SECRET|KEY|APIKEY|AUTH|CREDENTIALS?"
                              r"|PRIVATE)(?:_|$)", re.I)
# Values that cannot be a secret, whatever the name says.
_NOT_SECRET = re.compile(r"""["']?(?:/\S*|\$\{[^}]*\}|\$[A-Za-z_]\w*|true|false|yes|no|on|off|)["']?""", re.I)


def _name_words(name: str) -> str:
    return re.sub(r"[-.]", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name))


def _credential_value(name: str, value: str) -> bool:
    return bool(_CREDENTIAL_WORD.search(_name_words(name))) and not _NOT_SECRET.fullmatch(value)


def _step_assignments_mask(line: str) -> str:
    """An ENV/ARG/LABEL step as the builder echoes it, with credential values masked by name."""
    step = _STEP_ASSIGNMENTS.match(line)
    if step is None:
        return line
    head, rest = step.group("head"), step.group("rest")
    first = rest.split(None, 1)
    if step.group("instruction").upper() == "ENV" and first and "=" not in first[0]:
        # The legacy form `ENV NAME the rest of the line is the value`.
        value = first[1] if len(first) > 1 else ""
        return head + (f"{first[0]} {MASK}" if _credential_value(first[0], value) else rest)
    return head + _ASSIGNMENT.sub(
        lambda m: f"{m.group('name')}={MASK}" if _credential_value(m.group("name"), m.group("value")) else m.group(0), rest)


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
        line = _step_assignments_mask(line)
        for pattern in _TOKENS:
            line = pattern.sub(lambda m: m.group(0).replace(m.group("secret"), MASK), line)
        line = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, line)
        return _ASSIGNED.sub(lambda m: m.group("head") + MASK, line)


def log_text_mask(text: str) -> str:
    """Text outside the log that may quote a log line (a failed step, an engine error), masked alike."""
    masker = LogMasker()
    return "\n".join(masker.mask(line) for line in text.split("\n"))


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

    def flush(self, strict: bool = False) -> None:
        """Write the pending lines. While the database cannot be reached (a PostgreSQL restart)
        they stay pending, in order, for the next flush, and the build goes on (`strict`: raise)."""
        with self.lock:
            try:
                build_log_append(build=self.build, step=self.step, lines=self.pending)
            except CONNECTION_ERRORS as error:
                connection_drop()
                if strict:
                    raise
                log.warning("build %s: log lines kept for later, the database did not answer: %s", self.build.pk, error)
                self.last_flush = time.monotonic()  # the next try in half a second, not at every line
                return
            self.pending = []
            self.last_flush = time.monotonic()
