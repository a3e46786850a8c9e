"""Debian version ordering: our dpkg comparator against Debian Policy 5.6.12 cases."""
import random

import pytest

from compliance.vulndb.versions import InvalidVersion
from compliance.vulndb.versions.dpkg import dpkg_compare, dpkg_key

# Each chain is strictly increasing, left to right.
ASCENDING_CHAINS = {
    "epoch outranks everything": ["9.9-9", "1:0.1", "1:1.0", "2:0.0.1", "10:0"],
    "tilde sorts before everything, even the end": ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"],
    "pre-releases with tilde": ["1.0~alpha1", "1.0~beta1", "1.0~rc1", "1.0~rc2", "1.0", "1.0.1~rc1"],
    "tilde in the revision": ["1.0-1~bpo12+1", "1.0-1", "1.0-1+b1"],
    "stable security updates": [
        "2.36-9",
        "2.36-9+deb12u1",
        "2.36-9+deb12u2",
        "2.36-9+deb12u10",
        "2.36-10",
    ],
    "one release's update before the next release's": ["1.2-3+deb11u4", "1.2-3+deb12u1", "1.2-4"],
    "binNMU sits between the revision and the next one": ["1.0-1", "1.0-1+b1", "1.0-1+b2", "1.0-1.1", "1.0-2"],
    "non-maintainer and Ubuntu revisions": ["1.0-1", "1.0-1ubuntu1", "1.0-1ubuntu2", "1.0-1.1"],
    "Ubuntu point releases": ["2.35-0ubuntu3", "2.35-0ubuntu3.1", "2.35-0ubuntu3.4", "2.35-0ubuntu3.10"],
    "the end, then letters, then other characters": [
        "1.0",
        "1.0A",
        "1.0Z",
        "1.0a",
        "1.0z",
        "1.0+",
        "1.0.",
    ],
    "repacked upstream sorts before the next point release": ["1.0", "1.0+dfsg", "1.0+dfsg1", "1.0.1"],
    "digit runs compare as numbers": ["1.2", "1.9", "1.10", "1.10.1", "1.100"],
    "a missing component is less than a present zero": ["1", "1.0", "1.0.0", "1.0.0.0"],
    "hyphen in the upstream version": ["1.0-1", "1.0-beta-1", "1.0.0-1"],
    "upstream decides before the revision": ["1.0-9", "1.0.1-1", "1.1-0"],
    "large numbers": ["20230101", "20230101.1", "99999999999999999999", "100000000000000000000"],
}

EQUAL = [
    ("1.0", "0:1.0"),
    ("1:1.0", "01:1.0"),
    ("1.01", "1.1"),
    ("1.001", "1.1"),
    ("007", "7"),
    ("1.0", "1.0-0"),  # no revision counts as revision "0"
    ("1.0-00", "1.0-0"),
    ("2.36-9+deb12u1", "2.36-9+deb12u01"),
]

INVALID = [
    "",
    " 1.0",
    "1.0 ",
    "1 .0",
    ":1.0",
    "a:1.0",
    "-1:1.0",
    "1:",
    "1:-1",
    "-1",
    "1.0-",
    "1.0_1",
    "<unfixed>",
    "1:2:3",
    "1.0-a_b",
    "1.0-1:2",
]


@pytest.mark.parametrize("chain", ASCENDING_CHAINS.values(), ids=ASCENDING_CHAINS.keys())
def test_it_orders_each_chain_ascending(chain):
    for older, newer in zip(chain, chain[1:]):
        assert dpkg_compare(older, newer) == -1, (older, newer)
        assert dpkg_compare(newer, older) == 1, (newer, older)


@pytest.mark.parametrize("chain", ASCENDING_CHAINS.values(), ids=ASCENDING_CHAINS.keys())
def test_it_sorts_a_shuffled_chain_back_into_order(chain):
    shuffled = chain[:]
    random.Random(12).shuffle(shuffled)
    assert sorted(shuffled, key=dpkg_key) == chain


@pytest.mark.parametrize("a, b", EQUAL)
def test_it_treats_equivalent_spellings_as_equal(a, b):
    assert dpkg_compare(a, b) == 0
    assert dpkg_key(a) == dpkg_key(b)
    assert hash(dpkg_key(a)) == hash(dpkg_key(b))


def test_it_ranks_an_epoch_above_any_version_without_one():
    assert dpkg_compare("1:1.0", "2.0") == 1


def test_it_puts_a_double_tilde_before_a_single_one():
    assert dpkg_compare("1.0~rc1", "1.0") == -1
    assert dpkg_compare("1.0~~", "1.0~") == -1


def test_it_compares_a_version_with_itself_as_equal():
    assert dpkg_compare("1:2.36-9+deb12u1", "1:2.36-9+deb12u1") == 0


@pytest.mark.parametrize("version", INVALID)
def test_it_rejects_malformed_versions(version):
    with pytest.raises(InvalidVersion):
        dpkg_key(version)


def test_it_accepts_an_upstream_version_not_starting_with_a_digit_as_dpkg_does():
    assert dpkg_compare("a1.0", "b1.0") == -1
    assert dpkg_compare("1.0", "a1.0") == -1  # a digit (weight of the end) sorts before a letter


def test_it_reports_invalid_versions_as_value_errors():
    with pytest.raises(ValueError):
        dpkg_compare("1.0", "")
