"""Alpine version ordering: our apk comparator against apk-tools' rules."""
import random

import pytest

from compliance.vulndb.versions import InvalidVersion
from compliance.vulndb.versions.apk import apk_compare, apk_key

ASCENDING_CHAINS = {
    "suffix classes: pre-releases, plain, post-releases": [
        "1.0_alpha",
        "1.0_beta",
        "1.0_pre",
        "1.0_rc",
        "1.0",
        "1.0_cvs",
        "1.0_svn",
        "1.0_git",
        "1.0_hg",
        "1.0_p",
    ],
    "suffix numbers count, and a bare suffix is below a numbered one": [
        "1.0_alpha",
        "1.0_alpha0",
        "1.0_alpha1",
        "1.0_alpha2",
        "1.0_alpha10",
        "1.0_beta1",
    ],
    "revisions": ["1.0", "1.0-r0", "1.0-r1", "1.0-r2", "1.0-r10", "1.0.1-r0"],
    "a suffix outranks the revision": ["1.0_rc1-r5", "1.0-r0", "1.0-r9", "1.0_p1-r0", "1.0_p1-r1"],
    "letters": ["1.2", "1.2a", "1.2b", "1.2z", "1.2.1"],
    "letter with revision": ["1.2a-r0", "1.2a-r1", "1.2b-r0"],
    "a more precise version beats a letter, a letter beats a suffix": ["1.2_rc1", "1.2", "1.2_p1", "1.2a", "1.2.0"],
    "snapshot suffixes": ["1.0_git20200101", "1.0_git20210101", "1.0_hg1", "1.0_p1", "1.0.1"],
    "patch levels": ["3.1_p16", "3.1_p17", "3.1_p17-r1", "3.2"],
    "pre-release snapshots": ["2.9_pre20051101", "2.9_pre20051101-r3", "2.9_pre20061021", "2.9"],
    "several suffixes": ["0.1_alpha_pre2", "0.1_alpha", "0.1_alpha1", "0.1_alpha_p1", "0.1_p1_rc1", "0.1_p1"],
    "a leading zero compares as a string": ["1.001", "1.01", "1.1", "1.2"],
    "zero-padded components": ["8.2.0", "8.2.001", "8.2.002", "8.2.1"],
    "the first component is always a number": ["1.9", "006", "10.0"],
    "commit hashes": ["1.0", "1.0-r0", "1.0~1234", "1.0~2345", "1.0~2345-r1", "1.0.1"],
    "digit runs compare as numbers": ["1.2.9", "1.2.10", "1.2.100", "20060720"],
}

EQUAL = [
    ("1.0", "1.0"),
    ("1.0-r1", "1.0-r01"),
    ("1.0_rc01", "1.0_rc1"),
    ("01.0", "1.0"),
]

INVALID = [
    "",
    "0.12.5.-r0",
    "10.2.22.r0",
    "4.8.0.-r1",
    "2.7.16-33",
    "6.6.2p1-r0",
    "1.0a1",
    "1.0a.1",
    "1.0bc",
    "1.0A",
    "v1.0",
    ".1",
    "1..0",
    "1.0.",
    "a",
    "_pre1",
    "-r1",
    "1.0_",
    "1.0_foo",
    "1.0_foo1",
    "1.0__alpha",
    "1.0_1_alpha",
    "1.0_-r0",
    "1.0-r",
    "1.0-r1-r2",
    "1.0-r1.1",
    "1.0-r2_pre1",
    "1.0-pre1",
    "1.0~",
    "1.0~xyz",
    "1.0~12_pre1",
    "1.0-r1~12",
    "1.0 ",
]


@pytest.mark.parametrize("chain", ASCENDING_CHAINS.values(), ids=ASCENDING_CHAINS.keys())
def test_it_orders_each_chain_ascending(chain):
    for older, newer in zip(chain, chain[1:]):
        assert apk_compare(older, newer) == -1, (older, newer)
        assert apk_compare(newer, older) == 1, (newer, older)


@pytest.mark.parametrize("chain", ASCENDING_CHAINS.values(), ids=ASCENDING_CHAINS.keys())
def test_it_sorts_a_shuffled_chain_back_into_order(chain):
    shuffled = chain[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=apk_key) == chain


@pytest.mark.parametrize("a, b", EQUAL)
def test_it_treats_equivalent_spellings_as_equal(a, b):
    assert apk_compare(a, b) == 0
    assert apk_key(a) == apk_key(b)


@pytest.mark.parametrize("version", INVALID)
def test_it_rejects_malformed_versions(version):
    with pytest.raises(InvalidVersion):
        apk_key(version)


def test_it_puts_the_plain_version_before_its_first_revision():
    # apk: the side that has ended loses to a revision, so `1.0` is not `1.0-r0`.
    assert apk_compare("1.0", "1.0-r0") == -1


def test_it_sorts_pre_releases_before_and_post_releases_after_the_release():
    assert apk_compare("2.0_rc3-r1", "2.0") == -1
    assert apk_compare("2.0_p3", "2.0-r9") == 1
