"""Debian package version ordering, as dpkg does it (Debian Policy 5.6.12).

A version is `[epoch:]upstream_version[-debian_revision]`: the epoch ends at the first colon,
the revision starts after the last hyphen. Epochs compare as numbers; upstream version and
revision compare alike, left to right, alternating a run of non-digits and a run of digits:

- non-digit runs compare character by character, where `~` sorts before anything, even the
  end of the run, then the end of the run (or a digit), then letters in ASCII order, then every
  other character in ASCII order;
- digit runs compare as numbers, so leading zeros do not count and an absent run counts as 0.

What we reject (`InvalidVersion`) and why:
- what dpkg itself refuses: an empty string, embedded whitespace (we refuse it at the ends
  too: our callers hand us stripped fields), an empty or non-numeric epoch, an empty upstream
  version, a hyphen with nothing after it;
- characters outside Policy's sets (upstream `A-Za-z0-9.+~-`, revision `A-Za-z0-9.+~`). dpkg only
  warns about these, but they come from garbage such as `<unfixed>` in advisory data, and a
  scanner should report garbage rather than order it.
We accept an upstream version that does not start with a digit: Policy says "should", dpkg
orders such versions with a warning, and old archive versions use it.
"""
from __future__ import annotations

import re
import string

from compliance.vulndb.versions.errors import InvalidVersion

__all__ = ["dpkg_compare", "dpkg_key"]

_EPOCH = re.compile(r"[0-9]+")
_UPSTREAM = re.compile(r"[A-Za-z0-9.+~-]+")
_REVISION = re.compile(r"[A-Za-z0-9.+~]+")
_RUNS = re.compile(r"([^0-9]*)([0-9]*)")

# The end of a non-digit run (or the digit that ends it) weighs 0: `~` must sort below it,
# letters and then all other characters above it.
_END = 0


def _weight(char: str) -> int:
    if char == "~":
        return -1
    if char in string.ascii_letters:
        return ord(char)
    return ord(char) + 256


# One (non-digit run, digit run) pair that stands for "nothing left". Appending it to every
# part key lets plain tuple comparison do what dpkg does when one string runs out first:
# compare the other side's next character with the end weight 0. Only a leading digit run can
# look like it (no text before it), so a key is never a strict prefix of another.
_EXHAUSTED = ((_END,), 0)


def _part_key(part: str) -> tuple:
    """Key of an upstream version or revision: its (weights of non-digits + end, number) pairs."""
    pairs = []
    for match in _RUNS.finditer(part):
        text, digits = match.groups()
        if text or digits:  # skip the empty match at the end of the string
            pairs.append((tuple(_weight(c) for c in text) + (_END,), int(digits or 0)))
    # dpkg treats an absent revision as "0": give "" the same leading pair that "0" has.
    return tuple(pairs or [_EXHAUSTED]) + (_EXHAUSTED,)


def _split(version: str) -> tuple[int, str, str]:
    if not version:
        raise InvalidVersion("empty Debian version")
    if any(c.isspace() for c in version):
        raise InvalidVersion(f"Debian version {version!r} contains whitespace")
    epoch_text, colon, rest = version.partition(":")
    if not colon:
        epoch_text, rest = "0", version
    elif not _EPOCH.fullmatch(epoch_text):
        raise InvalidVersion(f"Debian version {version!r}: epoch {epoch_text!r} is not a number")
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not revision:
        raise InvalidVersion(f"Debian version {version!r}: empty revision after '-'")
    if not upstream:
        raise InvalidVersion(f"Debian version {version!r}: empty upstream version")
    if not _UPSTREAM.fullmatch(upstream) or (revision and not _REVISION.fullmatch(revision)):
        raise InvalidVersion(f"Debian version {version!r} contains characters Policy does not allow")
    return int(epoch_text), upstream, revision


def dpkg_key(version: str) -> tuple:
    """A sort key that orders Debian versions as `dpkg --compare-versions` does."""
    epoch, upstream, revision = _split(version)
    return (epoch, _part_key(upstream), _part_key(revision))


def dpkg_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian version `a` is older than, equal to or newer than `b`."""
    key_a, key_b = dpkg_key(a), dpkg_key(b)
    return (key_a > key_b) - (key_a < key_b)
