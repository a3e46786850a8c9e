"""Property-based checks of the version comparators.

dpkg and apk keys encode a pairwise algorithm as one tuple per version; here each key is
checked against a literal, pairwise reading of that algorithm (written for this test from
Debian Policy 5.6.12 and apk-tools' documented token rules). For the other ecosystems we check
that the order is a total order: antisymmetric and transitive.
"""
import re

import pytest
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from compliance.vulndb.versions import InvalidVersion, comparator_for  # noqa: E402
from compliance.vulndb.versions.apk import apk_compare  # noqa: E402
from compliance.vulndb.versions.dpkg import dpkg_compare  # noqa: E402


# Deterministic and file-free, so CI runs are reproducible; no deadline, as from_regex is slow
# to warm up on a loaded machine.
def examples(count):
    return settings(max_examples=count, derandomize=True, database=None, deadline=None)


def sign(number):
    return (number > 0) - (number < 0)


# --- dpkg: Policy's algorithm, character by character -------------------------------------

def policy_order(char):
    if char == "" or char.isdigit():
        return 0
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def policy_part_compare(a, b):
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = policy_order(a[i] if i < len(a) else "")
            bc = policy_order(b[j] if j < len(b) else "")
            if ac != bc:
                return sign(ac - bc)
            i, j = i + 1, j + 1
        start_i, start_j = i, j
        while i < len(a) and a[i].isdigit():
            i += 1
        while j < len(b) and b[j].isdigit():
            j += 1
        number_a, number_b = int(a[start_i:i] or 0), int(b[start_j:j] or 0)
        if number_a != number_b:
            return sign(number_a - number_b)
    return 0


def policy_compare(a, b):
    def split(version):
        epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
        return int(epoch), upstream, revision

    (epoch_a, upstream_a, revision_a), (epoch_b, upstream_b, revision_b) = split(a), split(b)
    if epoch_a != epoch_b:
        return sign(epoch_a - epoch_b)
    return policy_part_compare(upstream_a, upstream_b) or policy_part_compare(revision_a, revision_b)


# Small alphabets so that ties, leading zeros and tildes meet often.
dpkg_versions = st.one_of(
    st.from_regex(r"\A(?:[0-2]:)?[0-9][0-9ab.+~]{0,6}\Z"),
    st.from_regex(r"\A(?:[0-2]:)?[0-9][0-9ab.+~-]{0,6}-[0-9ab.+~]{1,4}\Z"),
)


@examples(1000)
@given(dpkg_versions, dpkg_versions)
def test_it_orders_dpkg_versions_as_policy_reads(a, b):
    assert dpkg_compare(a, b) == policy_compare(a, b)


# --- apk: pairwise token walk, as apk-tools describes it ----------------------------------

INITIAL, DIGIT, LETTER, SUFFIX, SUFFIX_NO, HASH, REVISION, END = range(8)
SUFFIXES = ["alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"]
PRE_RELEASE_LIMIT = SUFFIXES.index("")
APK_TOKEN = re.compile(r"(\d+)|\.(\d+)|([a-z])(?![a-z])|_([a-z]+)(\d*)|~([0-9a-fA-F]+)|-r(\d+)")


def apk_tokens(version):
    tokens = []
    for m in APK_TOKEN.finditer(version):
        if m[1] is not None:
            tokens.append((INITIAL, m[1]))
        elif m[2] is not None:
            tokens.append((DIGIT, m[2]))
        elif m[3] is not None:
            tokens.append((LETTER, m[3]))
        elif m[4] is not None:
            tokens.append((SUFFIX, SUFFIXES.index(m[4])))
            if m[5]:
                tokens.append((SUFFIX_NO, m[5]))
        elif m[6] is not None:
            tokens.append((HASH, m[6]))
        else:
            tokens.append((REVISION, m[7]))
    return tokens + [(END, None)]


def apk_token_compare(kind, a, b):
    if kind == DIGIT and (a.startswith("0") or b.startswith("0")):
        return sign((a > b) - (a < b))
    if kind in (INITIAL, DIGIT, SUFFIX_NO, REVISION):
        return sign(int(a) - int(b))
    return sign((a > b) - (a < b))


def apk_reference_compare(a, b):
    for (kind_a, value_a), (kind_b, value_b) in zip(apk_tokens(a), apk_tokens(b)):
        if kind_a != kind_b:
            break
        if kind_a == END:
            return 0
        result = apk_token_compare(kind_a, value_a, value_b)
        if result:
            return result
    if kind_a == SUFFIX and value_a < PRE_RELEASE_LIMIT:
        return -1
    if kind_b == SUFFIX and value_b < PRE_RELEASE_LIMIT:
        return 1
    return -1 if kind_a > kind_b else 1


apk_versions = st.from_regex(
    r"\A[0-9]{1,2}(?:\.[0-9]{1,2}){0,2}[ab]?(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,2}){0,2}"
    r"(?:~[0-9a-f]{1,2})?(?:-r[0-9])?\Z"
)


@examples(1000)
@given(apk_versions, apk_versions)
def test_it_orders_apk_versions_as_the_pairwise_walk_does(a, b):
    assert apk_compare(a, b) == apk_reference_compare(a, b)


# --- every ecosystem: a total order ------------------------------------------------------

VERSIONS_BY_ECOSYSTEM = {
    "Debian": dpkg_versions,
    "Alpine:v3.18": apk_versions,
    "PyPI": st.from_regex(r"\A(?:1!)?[0-2](?:\.[0-2]){0,2}(?:(?:a|b|rc)[0-2])?(?:\.post[0-2])?(?:\.dev[0-2])?\Z"),
    # Maven's own ComparableVersion is not transitive when separators mix freely ("1.0-sp" <
    # "1.0.alpha" < "1" < "1-sp" == "1.0-sp"), so generate the shapes real artifacts use.
    "Maven": st.from_regex(
        r"\A[0-9](?:\.[0-9]){0,3}(?:[.-](?:alpha|beta|rc|cr|SNAPSHOT|sp|M|RC|Final|RELEASE|GA|jre)[0-9]?)?"
        r"(?:-SNAPSHOT)?\Z"
    ),
    "npm": st.from_regex(r"\A[0-2]\.[0-2]\.[0-2](?:-(?:[0-2]|alpha|beta)(?:\.(?:[0-2]|alpha|beta)){0,2})?(?:\+b[0-2])?\Z"),
}


def compare_in(ecosystem, a, b):
    key = comparator_for(ecosystem)
    key_a, key_b = key(a), key(b)
    return (key_a > key_b) - (key_a < key_b)


@pytest.mark.parametrize("ecosystem", VERSIONS_BY_ECOSYSTEM)
def test_it_orders_every_ecosystem_totally(ecosystem):
    key = comparator_for(ecosystem)

    @examples(200)
    @given(st.lists(VERSIONS_BY_ECOSYSTEM[ecosystem], min_size=2, max_size=8))
    def check(versions):
        # After sorting by the key, every pair must agree with the order, both ways round:
        # an intransitive or asymmetric comparison breaks this for some list.
        ordered = sorted(versions, key=key)
        for i, earlier in enumerate(ordered):
            assert compare_in(ecosystem, earlier, earlier) == 0
            for later in ordered[i + 1:]:
                assert compare_in(ecosystem, earlier, later) <= 0
                assert compare_in(ecosystem, later, earlier) >= 0

    check()


@pytest.mark.parametrize("ecosystem", VERSIONS_BY_ECOSYSTEM)
def test_it_only_ever_rejects_garbage_with_invalid_version(ecosystem):
    key = comparator_for(ecosystem)

    @examples(300)
    @given(st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
    def check(text):
        try:
            key(text)
        except InvalidVersion:
            pass

    check()
