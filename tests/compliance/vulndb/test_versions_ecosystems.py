"""Choosing the version ordering from an OSV ecosystem string."""
import pytest

from compliance.vulndb.versions import InvalidVersion, UnsupportedEcosystem, comparator_for, ecosystem_base, version_compare
from compliance.vulndb.versions.apk import apk_key
from compliance.vulndb.versions.dpkg import dpkg_key
from compliance.vulndb.versions.maven import maven_key
from compliance.vulndb.versions.pep440 import pep440_key
from compliance.vulndb.versions.semver import semver_key


@pytest.mark.parametrize(
    "ecosystem, key",
    [
        ("Debian", dpkg_key),
        ("Debian:12", dpkg_key),
        ("Ubuntu:22.04", dpkg_key),
        ("Ubuntu:Pro:18.04:LTS", dpkg_key),
        ("Alpine:v3.18", apk_key),
        ("PyPI", pep440_key),
        ("Maven", maven_key),
        ("Maven:https://maven.google.com", maven_key),
        ("npm", semver_key),
    ],
)
def test_it_picks_the_ordering_of_the_base_ecosystem(ecosystem, key):
    assert comparator_for(ecosystem) is key


@pytest.mark.parametrize("ecosystem", ["Go", "crates.io", "debian", "pypi", "", "RubyGems"])
def test_it_refuses_ecosystems_it_cannot_order(ecosystem):
    with pytest.raises(UnsupportedEcosystem):
        comparator_for(ecosystem)


@pytest.mark.parametrize(
    "ecosystem, base",
    [("Debian:12", "Debian"), ("Debian", "Debian"), ("Alpine:v3.18", "Alpine"), ("Maven:https://x.example", "Maven")],
)
def test_it_strips_the_release_suffix(ecosystem, base):
    assert ecosystem_base(ecosystem) == base


def test_it_compares_in_the_named_ecosystem():
    assert version_compare("Debian:12", "1.0~rc1", "1.0") == -1
    assert version_compare("PyPI", "1.0rc1", "1.0") == -1
    assert version_compare("Alpine:v3.18", "1.0_rc1", "1.0") == -1
    assert version_compare("npm", "1.0.0-rc.1", "1.0.0") == -1


def test_it_reports_both_errors_as_value_errors():
    assert issubclass(InvalidVersion, ValueError)
    assert issubclass(UnsupportedEcosystem, ValueError)
