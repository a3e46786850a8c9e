"""banned-packages (matching with each ecosystem's own version ordering) and runtime-privileges."""
import pytest

from compliance.policy.params import params_clean
from compliance.policy.rules import rule_banned_packages, rule_runtime_privileges


def pkg(type, name, version, source_name="", layer=1):
    return {"type": type, "name": name, "version": version, "source_name": source_name, "layer_index": layer}


def banned(*entries):
    return params_clean("banned-packages", {"packages": list(entries)})["packages"]


@pytest.mark.parametrize("package, entry, hit", [
    # Debian: epochs, tildes and revisions order as dpkg orders them (not as strings do)
    (pkg("deb", "openssl", "1:1.1.1n-0+deb11u5"), {"name": "openssl", "ecosystem": "Debian", "version": "<3.0"}, False),
    (pkg("deb", "openssl", "1.1.1n-0+deb11u5"), {"name": "openssl", "ecosystem": "Debian", "version": "<3.0"}, True),
    (pkg("deb", "openssl", "3.0~rc1-1"), {"name": "openssl", "ecosystem": "Debian", "version": "<3.0"}, True),
    (pkg("deb", "openssl", "3.0.0~rc1-1"), {"name": "openssl", "ecosystem": "Debian", "version": "<3.0"}, False),
    (pkg("deb", "openssl", "3.0.11-1~deb12u2"), {"name": "openssl", "ecosystem": "Debian", "version": "<3.0"}, False),
    (pkg("deb", "libssl3", "3.0.11-1", source_name="openssl"), {"name": "openssl", "version": ">=3.0, <3.0.12"}, True),
    # Alpine: -rN revisions and _rc pre-releases
    (pkg("apk", "busybox", "1.36.1-r5"), {"name": "busybox", "ecosystem": "Alpine", "version": "<1.36.1-r10"}, True),
    (pkg("apk", "busybox", "1.36.1-r15"), {"name": "busybox", "ecosystem": "Alpine", "version": "<1.36.1-r10"}, False),
    (pkg("apk", "busybox", "1.37.0_rc1-r0"), {"name": "busybox", "version": ">=1.37.0"}, False),
    # PyPI: PEP 440 pre-releases sort before the release; names compare in PEP 503 form
    (pkg("pypi", "Requests", "2.0rc1"), {"name": "requests", "ecosystem": "PyPI", "version": "<2.0"}, True),
    (pkg("pypi", "requests", "2.10.0"), {"name": "requests", "version": "<2.9"}, False),
    (pkg("pypi", "PyYAML", "5.3"), {"name": "pyyaml", "version": "<5.4"}, True),
    # Maven: 1.0-SNAPSHOT < 1.0 and 2.17.0 > 2.9 (numeric, not string ordering)
    (pkg("maven", "org.apache.logging.log4j:log4j-core", "2.9.1"),
     {"name": "org.apache.logging.log4j:log4j-core", "version": ">=2.0, <2.17.1"}, True),
    (pkg("maven", "org.apache.logging.log4j:log4j-core", "2.17.1"),
     {"name": "org.apache.logging.log4j:log4j-core", "version": ">=2.0, <2.17.1"}, False),
    (pkg("maven", "com.example:lib", "1.0-SNAPSHOT"), {"name": "com.example:lib", "version": "<1.0"}, True),
    # npm: semver pre-releases and numeric parts
    (pkg("npm", "lodash", "4.17.9"), {"name": "lodash", "ecosystem": "npm", "version": "<4.17.21"}, True),
    (pkg("npm", "lodash", "4.17.21"), {"name": "lodash", "version": "<4.17.21"}, False),
    (pkg("npm", "left-pad", "1.0.0-beta.1"), {"name": "left-pad", "version": "==1.0.0"}, False),
    # no version constraint: every version; the ecosystem, when named, must be the package's
    (pkg("deb", "telnet", "0.17-44"), {"name": "telnet"}, True),
    (pkg("deb", "telnet", "0.17-44"), {"name": "telnet", "ecosystem": "Alpine"}, False),
    (pkg("npm", "telnet", "1.0.0"), {"name": "telnet", "ecosystem": "PyPI"}, False),
    (pkg("deb", "telnetd", "0.17-44"), {"name": "telnet"}, False),
])
def test_it_matches_banned_packages_with_the_ecosystems_version_ordering(package, entry, hit):
    result = rule_banned_packages([package], packages_banned=banned(entry))
    assert result.status == ("fail" if hit else "pass"), result.message


def test_its_evidence_names_each_matching_package_version_and_layer():
    packages = [pkg("deb", "telnet", "0.17-44", layer=2), pkg("pypi", "requests", "1.2.3", layer=4),
                pkg("pypi", "requests-toolbelt", "1.0.0", layer=4), pkg("deb", "bash", "5.2-2", layer=0)]
    result = rule_banned_packages(packages, packages_banned=banned({"name": "telnet"}, {"name": "requests", "version": "<2.0"}))
    assert result.status == "fail"
    assert [(m["package"], m["version"], m["layer"]) for m in result.evidence["matches"]] == \
        [("telnet", "0.17-44", 2), ("requests", "1.2.3", 4)]
    assert "telnet 0.17-44 (layer 2" in result.message and "requests 1.2.3 (layer 4" in result.message


def test_it_counts_a_version_it_cannot_order_as_banned():
    result = rule_banned_packages([pkg("pypi", "requests", "not/a/version")],
                                  packages_banned=banned({"name": "requests", "version": "<2.0"}))
    assert result.status == "fail" and result.evidence["matches"][0]["version_unordered"] is True


def test_it_passes_with_no_matching_package():
    result = rule_banned_packages([pkg("deb", "bash", "5.2-2")], packages_banned=banned({"name": "telnet"}))
    assert result.status == "pass" and result.evidence["matches"] == []


@pytest.mark.parametrize("runtime, params, status, named", [
    ({}, {}, "pass", None),
    ({"privileged": False, "cap_add": []}, {}, "pass", None),
    ({"privileged": True, "cap_add": []}, {}, "fail", "privileged"),
    ({"privileged": True, "cap_add": []}, {"allow_privileged": True}, "pass", None),
    ({"cap_add": ["NET_BIND_SERVICE"]}, {"allowed_capabilities": ["NET_BIND_SERVICE"]}, "pass", None),
    ({"cap_add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}, {"allowed_capabilities": ["NET_BIND_SERVICE"]}, "fail", "SYS_ADMIN"),
    ({"cap_add": ["ALL"]}, {"allowed_capabilities": ["NET_ADMIN"]}, "fail", "ALL"),
    ({"cap_add": ["SYS_ADMIN"]}, {"allowed_capabilities": ["ALL"]}, "pass", None),
])
def test_it_fails_privileged_mode_and_capabilities_the_rule_does_not_allow(runtime, params, status, named):
    result = rule_runtime_privileges(runtime, **params_clean("runtime-privileges", params))
    assert result.status == status, result.message
    if named:
        assert named in result.message
