"""PyPI version ordering (PEP 440)."""
import pytest

from compliance.vulndb.versions import InvalidVersion, version_compare
from compliance.vulndb.versions.pep440 import pep440_key

ASCENDING = [
    "0.9",
    "1.0.dev0",
    "1.0a1",
    "1.0a2.dev1",
    "1.0a2",
    "1.0b1",
    "1.0rc1",
    "1.0",
    "1.0+local.1",
    "1.0.post1",
    "1.0.1",
    "1.10",
    "1!0.1",
]


def test_it_orders_the_pep440_phases():
    assert sorted(reversed(ASCENDING), key=pep440_key) == ASCENDING


@pytest.mark.parametrize("a, b", [("1.0", "1.0.0"), ("1.0RC1", "1.0rc1"), ("v1.0", "1.0"), ("1.0-post1", "1.0.post1")])
def test_it_treats_normalised_spellings_as_equal(a, b):
    assert version_compare("PyPI", a, b) == 0


@pytest.mark.parametrize("version", ["", "latest", "1.0-foo-bar", "1.0 beta", "2.0.*"])
def test_it_rejects_non_pep440_versions(version):
    with pytest.raises(InvalidVersion):
        pep440_key(version)
