"""Mask credentials in build log lines before they are stored or shown.

Uses the same token patterns as the image secret scanner (compliance/sbom/secret_rules.py), plus
the password-in-URL form that download commands print. A private key's lines are masked from
its header to its footer.
"""
import re

from compliance.sbom.secret_rules import RULES

MASK = "****"
_TOKENS = [rule.pattern for rule in RULES if rule.name not in ("private-key", "password-assignment")]
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
