"""Maven version ordering (ComparableVersion semantics, through univers)."""
import pytest

from compliance.vulndb.versions import InvalidVersion, version_compare
from compliance.vulndb.versions.maven import maven_key

ASCENDING = [
    "1.0-alpha1",
    "1.0-alpha2",
    "1.0-beta1",
    "1.0-milestone1",
    "1.0-rc1",
    "1.0-rc2",
    "1.0-SNAPSHOT",
    "1.0",
    "1.0-sp1",
    "1.0-whatever",
    "1.0.1",
    "1.1",
    "1.10",
    "2.0",
]

EQUAL = [
    ("1", "1.0.0"),
    ("1.0-ga", "1.0"),
    ("1.0-final", "1.0"),
    ("1.0.Final", "1.0"),
    ("5.2.9.RELEASE", "5.2.9"),
    ("1.0-cr1", "1.0-rc1"),
    ("1.0-a1", "1.0-alpha1"),
    ("1.0-b2", "1.0-beta2"),
    ("1.0-m3", "1.0-milestone3"),
    ("1.0-ALPHA1", "1.0-alpha1"),
]


def test_it_orders_qualifiers_as_maven_does():
    assert sorted(reversed(ASCENDING), key=maven_key) == ASCENDING


def test_it_puts_a_snapshot_before_its_release():
    assert version_compare("Maven", "1.0-SNAPSHOT", "1.0") == -1


@pytest.mark.parametrize("a, b", EQUAL)
def test_it_treats_aliases_as_equal(a, b):
    assert version_compare("Maven", a, b) == 0


@pytest.mark.parametrize(
    "older, newer",
    [
        ("2.12.7", "2.12.7.1"),  # a fourth component on the same release
        ("5.2.9.RELEASE", "5.2.20.RELEASE"),  # numbers, not strings
        ("5.4.2.Final", "5.4.24.Final"),
        ("31.1-android", "31.1-jre"),  # unknown qualifiers: lexical
        ("1.0-alpha-9", "1.0-alpha-10"),
    ],
)
def test_it_orders_real_world_release_trains(older, newer):
    assert version_compare("Maven", older, newer) == -1


@pytest.mark.parametrize("version", ["", "1.0 beta", " 1.0", "1.²"])
def test_it_rejects_what_cannot_be_a_pom_version(version):
    with pytest.raises(InvalidVersion):
        maven_key(version)
