"""Alpine package version ordering, as current apk-tools does it (its `src/version.c`).

Grammar: `digits{.digits}[letter]{_suffix[digits]}[~hash][-r<digits>]`, e.g. `1.2.3a_rc1_p2-r4`
or `0.1_pre2~1234abcd`. Suffixes `_alpha _beta _pre _rc` mark pre-releases, which sort BEFORE
the plain version; `_cvs _svn _git _hg _p` mark post-releases, which sort after it. The order
within each group is the order of that list. Anything else is rejected with `InvalidVersion`
(apk-tools' own validator refuses it too), e.g. `0.12.5.-r0`, `10.2.22.r0`, `1.0_foo`, `1.0a1`.

Comparison walks both versions token by token:
- tokens of the same kind compare by value: numbers numerically, except that a dotted
  component with a leading zero on either side compares as a string (so `1.01 < 1.1` and
  `8.2.0 < 8.2.001`); letters and commit hashes as strings; suffixes by the order above;
- at the first pair of different kinds, a pre-release suffix loses to anything; otherwise the
  side whose token comes earlier in the grammar wins (`1.2.1 > 1.2a > 1.2_p1 > 1.2-r1 > 1.2`),
  and the side that has ended loses to anything but a pre-release suffix (so `1.0 < 1.0-r0`).

Older apk-tools (before the `~hash` token existed) differed in two corners we do not follow:
a zero-padded component such as `8.2.0` vs `8.2.001`, and digits right after a letter (`1.0a1`).
"""
from __future__ import annotations

import re

from compliance.vulndb.versions.errors import InvalidVersion

__all__ = ["apk_compare", "apk_key"]

_PRE_RELEASE = ("alpha", "beta", "pre", "rc")
_POST_RELEASE = ("cvs", "svn", "git", "hg", "p")
# Pre-release suffixes rank below the plain version (0), post-release ones above it.
_SUFFIX_ORDER = {name: i - len(_PRE_RELEASE) for i, name in enumerate(_PRE_RELEASE)}
_SUFFIX_ORDER.update({name: i + 1 for i, name in enumerate(_POST_RELEASE)})

_SUFFIX = "|".join(_PRE_RELEASE + _POST_RELEASE)
_GRAMMAR = re.compile(
    rf"[0-9]+(?:\.[0-9]+)*[a-z]?(?:_(?:{_SUFFIX})[0-9]*)*(?:~[0-9a-fA-F]+)?(?:-r[0-9]+)?"
)
_TOKEN = re.compile(
    r"(?P<initial>^[0-9]+)|\.(?P<digit>[0-9]+)|(?P<letter>[a-z])"
    r"|_(?P<suffix>[a-z]+)(?P<suffix_number>[0-9]*)|~(?P<hash>[0-9a-fA-F]+)|-r(?P<revision>[0-9]+)"
)

# When the two versions first hold tokens of different kinds, the lower rank sorts first.
# This encodes apk's rule: pre-release suffix < end < revision < hash < suffix number
# < post-release suffix < letter < dotted number.
_RANK_PRE_RELEASE, _RANK_END, _RANK_REVISION, _RANK_HASH = 0, 1, 2, 3
_RANK_SUFFIX_NUMBER, _RANK_POST_RELEASE, _RANK_LETTER, _RANK_DIGIT, _RANK_INITIAL = 4, 5, 6, 7, 8


def _dotted_number(digits: str) -> tuple:
    # apk compares as strings when either side has a leading zero. Every such string sorts
    # below every number without one (its first character '0' is below '1'..'9'), so this
    # per-version key gives the same order as apk's pairwise rule.
    return (0, digits) if digits.startswith("0") else (1, int(digits))


def _tokens(version: str) -> list[tuple[int, object]]:
    tokens: list[tuple[int, object]] = []
    for match in _TOKEN.finditer(version):
        group = match.groupdict()
        if group["initial"] is not None:
            tokens.append((_RANK_INITIAL, int(group["initial"])))
        elif group["digit"] is not None:
            tokens.append((_RANK_DIGIT, _dotted_number(group["digit"])))
        elif group["letter"] is not None:
            tokens.append((_RANK_LETTER, group["letter"]))
        elif group["suffix"] is not None:
            order = _SUFFIX_ORDER[group["suffix"]]
            tokens.append((_RANK_PRE_RELEASE if order < 0 else _RANK_POST_RELEASE, order))
            if group["suffix_number"]:
                tokens.append((_RANK_SUFFIX_NUMBER, int(group["suffix_number"])))
        elif group["hash"] is not None:
            tokens.append((_RANK_HASH, group["hash"]))
        else:
            tokens.append((_RANK_REVISION, int(group["revision"])))
    return tokens


def apk_key(version: str) -> tuple:
    """A sort key that orders Alpine versions as `apk version -t` does."""
    if not _GRAMMAR.fullmatch(version):
        raise InvalidVersion(f"invalid Alpine version {version!r}")
    return tuple(_tokens(version)) + ((_RANK_END, 0),)


def apk_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Alpine version `a` is older than, equal to or newer than `b`."""
    key_a, key_b = apk_key(a), apk_key(b)
    return (key_a > key_b) - (key_a < key_b)
