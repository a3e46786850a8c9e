"""Advisory / Affected / Rejection: JSON round trips and the timestamp check importers share."""
import json

import pytest

from compliance.vulndb.advisory import Advisory, Affected, Rejection, fixed_range, is_rfc3339


def test_it_round_trips_an_advisory_through_json():
    advisory = Advisory(
        id="DSA-5380-1", modified="2023-03-29T00:00:00Z", published="2023-03-29T00:00:00Z",
        aliases=["CVE-2023-1393"], summary="xorg-server - security update",
        affected=[Affected(ecosystem="Debian:11", name="xorg-server", ranges=[fixed_range("2:1.20.11-1+deb11u6")],
                           ecosystem_specific={"urgency": "high"})],
        source="debian-dsa", database_specific={"package": "xorg-server"},
    )

    again = Advisory.from_dict(json.loads(json.dumps(advisory.to_dict())))

    assert again == advisory
    assert again.affected[0].ranges == [
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2:1.20.11-1+deb11u6"}]}]


def test_it_reads_stored_dicts_missing_newer_keys():
    advisory = Advisory.from_dict({
        "id": "X-1", "modified": "2024-01-01T00:00:00Z", "source": "osv", "no_longer_known": 1,
        "affected": [{"ecosystem": "PyPI", "name": "demo"}],
    })

    assert advisory.withdrawn is None
    assert advisory.affected == [Affected(ecosystem="PyPI", name="demo")]


def test_it_round_trips_a_rejection():
    rejection = Rejection("DSA.list:12", "DSA-1-1", "unknown release 'hurd'")

    assert Rejection.from_dict(rejection.to_dict()) == rejection


def test_it_leaves_a_range_open_without_a_fix():
    assert fixed_range(None) == {"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}


@pytest.mark.parametrize("value, expected", [
    ("2023-11-07T20:24:23.946863Z", True),
    ("2023-11-07T20:24:23Z", True),
    ("2023-11-07T20:24:23.123456789Z", True),
    ("2023-11-07t20:24:23z", True),
    ("2023-11-07T20:24:23+02:00", True),
    ("2023-11-07", False),
    ("2023-11-07 20:24:23Z", False),
    ("2023-11-07T20:24:23", False),  # no zone: not an instant
    ("2023-02-30T00:00:00Z", False),
    ("2023-11-07T20:24:23Z\n", False),
    (1699388663, False),
    (None, False),
])
def test_it_recognises_rfc3339_timestamps(value, expected):
    assert is_rfc3339(value) is expected


def test_package_names_are_spelled_as_each_ecosystem_compares_them():
    from compliance.vulndb.advisory import Affected
    from compliance.vulndb.names import package_name

    assert package_name("PyPI", "PyYAML") == package_name("PyPI", "pyyaml") == "pyyaml"
    assert package_name("PyPI", "jw.util") == package_name("PyPI", "jw__util") == "jw-util"
    assert package_name("npm", "JSONStream") == "JSONStream", "npm keeps its legacy upper-case names"
    assert package_name("Maven", "org.Example:Lib") == "org.Example:Lib"
    assert package_name("Debian:12", "openssl") == "openssl"
    assert Affected(ecosystem="PyPI", name="Django_REST.framework").name == "django-rest-framework"
    assert Affected.from_dict({"ecosystem": "PyPI", "name": "PyYAML"}).name == "pyyaml"
