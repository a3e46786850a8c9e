"""What counts as a secret in an image, and which files are not worth reading. Pure.

Every rule and detector comes with cues: small byte patterns that any match contains.
An image holds thousands of text files, and most secret patterns make Python's regex
engine try every position (~100 MB/s each: 30 of them would triple the time to read an
image). A pattern that starts with a literal is searched for at memory speed instead,
so cues start with one (`gh[pousr]_` costs what one `in` does, five `in`s five times
that), and the real patterns run only on the few files where a cue is.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

# Paths that are large, numerous and full of example or test credentials on purpose:
NOISE_PATHS = re.compile(r"""
    ^usr/share/(?:doc|man|info|locale|i18n|zoneinfo|gtk-doc|help)/  # docs quote example keys; locale data
  | ^usr/(?:local/)?lib/python3[^/]*/test/                          # CPython's test suite ships keycert.pem & co
  | ^usr/(?:local/go|lib/go[^/]*)/src/(?:.*/)?testdata/             # Go's crypto/tls test keys
  | ^var/lib/dpkg/info/[^/]*\.(?:list|md5sums)$                     # dpkg file lists and checksums
  | \.mo$                                                           # compiled translations
""", re.X)

# The password rule reads only configuration: in code and docs `password = ...` is mostly
# a variable, a parameter or an example.
_CONFIG_SUFFIXES = (".conf", ".cfg", ".cnf", ".ini", ".env", ".properties", ".yaml", ".yml", ".toml",
                    ".json", ".xml", ".config")
_CONFIG_NAMES = {".env", ".npmrc", ".pypirc", ".netrc", ".pgpass", ".my.cnf"}


def is_config_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return path.startswith("etc/") or name in _CONFIG_NAMES or name.endswith(_CONFIG_SUFFIXES)


@dataclass(frozen=True)
class Rule:
    """One of our own patterns. `value` extracts the secret from a match (never stored:
    only its fingerprint is) or returns None to reject the match."""

    name: str
    pattern: re.Pattern[str]
    cues: tuple[bytes, ...]  # byte regexes, each starting with a literal
    folded: bool = False  # cues are matched against lower-cased content
    config_only: bool = False
    value: Callable[[re.Match[str], str], str | None] = lambda match, text: match["secret"]


def _private_key_body(match: re.Match[str], text: str) -> str | None:
    # Every PEM key starts with the same header: fingerprint the body, so two keys differ.
    end = text.find("-----END", match.end(), match.end() + 16384)
    body = text[match.end():end if end >= 0 else match.end() + 4096]
    return re.sub(r"\s|\\n", "", body) or None


# The key's last word must end with one of these ("db_password", "dbpassword") or be
# "pass" ("bypass" is no password); alone, "passwd" and "pass" name other things
# (nsswitch's `passwd:` database).
_PASSWORD_ENDINGS = ("password", "passwd", "passphrase", "pwd")
_NOT_ALONE = {"passwd", "pass"}
# Values that only point at a secret kept elsewhere, or stand in for one.
_PLACEHOLDER = re.compile(
    r"\$.*|%\(.*\)s|\{\{.*\}\}|<.*>|\*+|x+|\?+|\.+|/.*|"
    r"null|none|nil|true|false|yes|no|password|secret|changeme|change_me|\s*", re.I)


_KEY_CHARACTER = re.compile(r"[A-Za-z0-9_.\-]")
_WORD = re.compile(r"[A-Za-z]+")


def is_placeholder(value: str) -> bool:
    """A value that stands in for a secret: `http://username:password@host` in a docstring."""
    return bool(_PLACEHOLDER.fullmatch(value))


def _password_value(match: re.Match[str], text: str) -> str | None:
    start = match.start()
    while start > 0 and _KEY_CHARACTER.match(text, start - 1):
        start -= 1
    key = text[start:match.start()] + _WORD.match(text, match.start())[0]
    key = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()  # dbPassword -> db_password
    words = [word for word in re.split(r"[_.\-]", key) if word] or [""]
    last = words[-1]
    if not (last.endswith(_PASSWORD_ENDINGS) or last == "pass") or (len(words) == 1 and last in _NOT_ALONE):
        return None  # password_file, pass_min_days, bypass: not a password
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].lstrip().startswith(("#", ";", "//", "!", "<!--")):
        return None  # a commented-out example
    if match["bare"] is not None:
        line_end = text.find("\n", match.end())
        rest = text[match.end():line_end if line_end >= 0 else len(text)].strip()
        if rest and not rest.startswith(("#", ";", ",", "}", "//")):
            return None  # more words follow: a prompt or a sentence ("challengePassword = A challenge password")
    value = next(v for v in (match["dq"], match["sq"], match["bare"]) if v is not None)
    return None if _PLACEHOLDER.fullmatch(value) else value


RULES = (
    Rule("private-key", re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED |)PRIVATE KEY-----"),
         (b"PRIVATE KEY",), value=_private_key_body),
    # The same cue as detect-secrets' AWS detector below: one search serves both.
    Rule("aws-access-key-id", re.compile(r"(?<![A-Z0-9])(?P<secret>AKIA[0-9A-Z]{16})(?![A-Z0-9])"),
         (rb"A(?:KIA|SIA|BIA|CCA|3T)",)),
    Rule("github-token", re.compile(r"(?<![A-Za-z0-9_])(?P<secret>gh[pousr]_[A-Za-z0-9]{36})"),
         (rb"gh[pousr]_",)),
    Rule("slack-token", re.compile(r"(?<![A-Za-z0-9])(?P<secret>xox[abposr]-[A-Za-z0-9-]{10,})"), (b"xox",)),
    Rule("slack-webhook", re.compile(r"(?P<secret>https://hooks\.slack\.com/services/T\w+/B\w+/\w+)"),
         (rb"hooks\.slack\.com",)),
    # Starts at the password word: a pattern starting with the key's `[\w.-]*` would be
    # tried, and backtracked, at every position of every file. The key's start is found
    # afterwards, in `_password_value`.
    Rule("password-assignment", re.compile(
        r"(?:pass(?:word|wd|phrase)?|pwd)[\"']?[ \t]*(?:=>|=|:)[ \t]*"
        r"(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'|(?P<bare>[^\s\"'#;,{}\[\]()]+))", re.I),
        (b"pass", b"pwd"), folded=True, config_only=True, value=_password_value),
)

# detect-secrets detectors used on files, with the cues their patterns need (exact, and
# lower-cased). Left out, on purpose: the entropy and keyword detectors, which flag every
# checksum and every `password` parameter of a filesystem; the public-IP one (an address
# is no credential); and those with no literal anchor or that match ordinary identifiers
# and hex (Artifactory, Cloudant, Discord, IBM, Mailchimp, SoftLayer, Telegram, Twilio).
FILE_DETECTORS: dict[str, tuple[tuple[bytes, ...], tuple[bytes, ...]]] = {
    "AWSKeyDetector": ((rb"A(?:KIA|SIA|BIA|CCA|3T)",), (b"aws",)),
    "AzureStorageKeyDetector": ((b"AccountKey=",), ()),
    "BasicAuthDetector": ((b"://",), ()),
    "GitHubTokenDetector": ((rb"gh[pousr]_",), ()),
    "GitLabTokenDetector": ((rb"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-", b"GR1348941"), ()),
    "JwtTokenDetector": ((b"eyJ",), ()),
    "NpmDetector": ((b"_authToken=",), ()),
    "OpenAIDetector": ((b"T3BlbkFJ",), ()),
    "PrivateKeyDetector": ((b"PRIVATE KEY", b"PuTTY-User-Key-File-2"), ()),
    "PypiTokenDetector": ((b"pypi-AgE",), ()),
    "SendGridDetector": ((rb"SG\.",), ()),
    "SlackDetector": ((b"xox", rb"hooks\.slack\.com"), ()),
    "SquareOAuthDetector": ((b"sq0csp-",), ()),
    "StripeDetector": ((b"k_live_",), ()),
}
# detect-secrets names for what our own rules already report, so one secret is one finding.
SAME_AS_RULE = {"AWS Access Key": "aws-access-key-id", "GitHub Token": "github-token",
                "Slack Token": "slack-token", "Private Key": "private-key"}


def rule_name(detector_type: str) -> str:
    """"Basic Auth Credentials" -> "basic-auth-credentials"."""
    return SAME_AS_RULE.get(detector_type) or re.sub(r"[^a-z0-9]+", "-", detector_type.lower()).strip("-")


def cued(content: bytes, *, config: bool) -> set[str]:
    """Names of the rules and detectors whose cues occur in `content` (a file's bytes);
    rules for configuration only count when `config`."""
    names: set[str] = set()
    folded = None
    for cue, is_folded, consumers, config_only in _cue_table():
        if (config_only and not config) or consumers <= names:
            continue
        if is_folded and folded is None:
            folded = content.lower()
        if cue.search(folded if is_folded else content):
            names |= consumers
    return names


@cache
def _cue_table() -> list[tuple[re.Pattern[bytes], bool, frozenset[str], bool]]:
    # One search per distinct cue, however many rules and detectors share it.
    consumers: dict[tuple[bytes, bool], set[str]] = {}
    config_only: dict[tuple[bytes, bool], bool] = {}
    entries = [(r.name, r.cues, r.folded, r.config_only) for r in RULES]
    for name, (exact, lower) in FILE_DETECTORS.items():
        entries += [(name, exact, False, False), (name, lower, True, False)]
    for name, cues, folded, only_config in entries:
        for cue in cues:
            consumers.setdefault((cue, folded), set()).add(name)
            config_only[(cue, folded)] = config_only.get((cue, folded), True) and only_config
    return [(re.compile(cue), folded, frozenset(names), config_only[(cue, folded)])
            for (cue, folded), names in consumers.items()]
