"""npm / SemVer 2.0.0 precedence."""
import pytest

from compliance.vulndb.versions import InvalidVersion
from compliance.vulndb.versions.semver import semver_key

ASCENDING = [
    "0.9.9",
    "1.0.0-0",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.9",
    "1.2.10",
    "2.0.0-rc.1",
    "2.0.0",
    "10.0.0",
]


def test_it_orders_pre_releases_by_semver_precedence():
    assert sorted(reversed(ASCENDING), key=semver_key) == ASCENDING


@pytest.mark.parametrize("a, b", [("1.0.0+build.1", "1.0.0+build.2"), ("1.0.0+x", "1.0.0"), ("v1.2.3", "1.2.3")])
def test_it_ignores_build_metadata_and_a_leading_v(a, b):
    assert semver_key(a) == semver_key(b)


def test_it_compares_numeric_identifiers_numerically_and_below_words():
    assert semver_key("1.0.0-2") < semver_key("1.0.0-10") < semver_key("1.0.0-a")


@pytest.mark.parametrize(
    "version",
    ["", "1", "1.0", "1.2.3.4", "01.0.0", "1.02.0", "1.2.3-01", "1.2.3-", "1.2.3+", "=1.2.3", "1.2.3-alpha..1", "1.2.3 "],
)
def test_it_rejects_non_semver(version):
    with pytest.raises(InvalidVersion):
        semver_key(version)
