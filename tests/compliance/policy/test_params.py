"""Rule parameters as admins write them: exact shapes accepted and canonicalised, anything else
refused with a message naming the field."""
import pytest

from builds.recipes.runtime import capabilities_clean, capability_name
from compliance.policy.params import RuleParamsError, params_clean, version_constraint_parse


def errors_of(kind, params) -> dict:
    with pytest.raises(RuleParamsError) as caught:
        params_clean(kind, params)
    return caught.value.errors


def test_it_accepts_and_canonicalises_each_kind():
    assert params_clean("non-root-user", {}) == {}
    assert params_clean("non-root-user", None) == {}
    assert params_clean("vulnerability-threshold", {"severities": ["High", "Critical", "High"], "fixable_only": False}) == \
        {"severities": ["Critical", "High"], "fixable_only": False}
    assert params_clean("runtime-privileges", {"allowed_capabilities": ["cap_net_bind_service", "CHOWN", "CAP_CHOWN"]}) == \
        {"allow_privileged": False, "allowed_capabilities": ["CHOWN", "NET_BIND_SERVICE"]}
    cleaned = params_clean("banned-packages", {"packages": [
        {"name": "telnet"}, {"name": "requests", "ecosystem": "PyPI", "version": "< 2.0 , >=1.0"}, {"name": "telnet"}]})
    assert cleaned == {"packages": [{"name": "requests", "ecosystem": "PyPI", "version": "<2.0, >=1.0"}, {"name": "telnet"}]}


@pytest.mark.parametrize("kind, params, field", [
    ("no-such-rule", {}, "kind"),
    ("non-root-user", {"uid": 0}, "params"),
    ("non-root-user", [], "params"),
    ("non-root-user", "{}", "params"),
    ("vulnerability-threshold", {}, "severities"),
    ("vulnerability-threshold", {"severities": []}, "severities"),
    ("vulnerability-threshold", {"severities": "Critical"}, "severities"),
    ("vulnerability-threshold", {"severities": ["Catastrophic"]}, "severities"),
    ("vulnerability-threshold", {"severities": [{"$gt": ""}]}, "severities"),
    ("vulnerability-threshold", {"severities": ["High"], "fixable_only": "yes"}, "fixable_only"),
    ("vulnerability-threshold", {"severities": ["High"], "block_all": True}, "params"),
    ("runtime-privileges", {"allow_privileged": 1}, "allow_privileged"),
    ("runtime-privileges", {"allowed_capabilities": "NET_ADMIN"}, "allowed_capabilities"),
    ("runtime-privileges", {"allowed_capabilities": ["NET_ADMIN", "SUPERPOWER"]}, "allowed_capabilities"),
    ("runtime-privileges", {"allowed_capabilities": [None]}, "allowed_capabilities"),
    ("runtime-privileges", {"allowed_capabilities": ["CHOWN"] * 1000}, "allowed_capabilities"),
    ("banned-packages", {}, "packages"),
    ("banned-packages", {"packages": []}, "packages"),
    ("banned-packages", {"packages": {"name": "x"}}, "packages"),
    ("banned-packages", {"packages": [{"name": "x"}] * 501}, "packages"),
    ("banned-packages", {"packages": ["telnet"]}, "packages[0]"),
    ("banned-packages", {"packages": [{"name": ""}]}, "packages[0].name"),
    ("banned-packages", {"packages": [{"name": 42}]}, "packages[0].name"),
    ("banned-packages", {"packages": [{"name": "a b"}]}, "packages[0].name"),
    ("banned-packages", {"packages": [{"name": "x" * 300}]}, "packages[0].name"),
    ("banned-packages", {"packages": [{"name": "<script>"}]}, "packages[0].name"),
    ("banned-packages", {"packages": [{"name": "ok"}, {"name": "x", "flavour": "y"}]}, "packages[1]"),
    ("banned-packages", {"packages": [{"name": "x", "ecosystem": "CPAN"}]}, "packages[0].ecosystem"),
    ("banned-packages", {"packages": [{"name": "x", "version": "2.0"}]}, "packages[0].version"),
    ("banned-packages", {"packages": [{"name": "x", "version": "~>2.0"}]}, "packages[0].version"),
    ("banned-packages", {"packages": [{"name": "x", "version": "<2.0; rm -rf /"}]}, "packages[0].version"),
    ("banned-packages", {"packages": [{"name": "x", "version": "<2.0,"}]}, "packages[0].version"),
    ("banned-packages", {"packages": [{"name": "x", "ecosystem": "PyPI", "version": "<not.a.version!"}]}, "packages[0].version"),
    ("banned-packages", {"packages": [{"name": "x", "ecosystem": "npm", "version": "<1.x"}]}, "packages[0].version"),
])
def test_it_refuses_malformed_or_hostile_params_naming_the_field(kind, params, field):
    errors = errors_of(kind, params)
    assert field in errors, errors
    assert errors[field].strip()


def test_its_messages_are_bounded_for_huge_input():
    errors = errors_of("runtime-privileges", {"allowed_capabilities": ["A" * 10_000, "B" * 10_000]})
    assert len(errors["allowed_capabilities"]) < 300


def test_it_parses_version_constraints_and_checks_versions_per_ecosystem():
    assert version_constraint_parse("<2.0") == [("<", "2.0")]
    assert version_constraint_parse(">=1:1.2-1, != 1:1.2-3", "Debian") == [(">=", "1:1.2-1"), ("!=", "1:1.2-3")]
    assert version_constraint_parse("=1.0.0", "npm") == [("==", "1.0.0")]
    with pytest.raises(ValueError, match="not a Debian version"):
        version_constraint_parse("<1:", "Debian")
    with pytest.raises(ValueError, match="comparison"):
        version_constraint_parse("between 1 and 2")


@pytest.mark.parametrize("given, name", [("NET_ADMIN", "NET_ADMIN"), ("cap_net_admin", "NET_ADMIN"), (" chown ", "CHOWN"),
                                         ("ALL", "ALL"), ("CAP_", None), ("NET ADMIN", None), (7, None)])
def test_it_knows_linux_capability_names(given, name):
    assert capability_name(given) == name


def test_it_lists_capabilities_sorted_without_duplicates():
    assert capabilities_clean(["SYS_TIME", "cap_sys_time", "AUDIT_WRITE"]) == ["AUDIT_WRITE", "SYS_TIME"]


def test_it_summarises_params_in_one_line():
    from compliance.policy.params import params_summary

    assert params_summary("vulnerability-threshold", {"severities": ["Critical"], "fixable_only": True}) == \
        "Blocks Critical vulnerabilities that have a fix."
    assert params_summary("banned-packages", params_clean("banned-packages", {"packages": [
        {"name": "telnet"}, {"name": "requests", "ecosystem": "PyPI", "version": "<2.0"}]})) == \
        "Banned: requests <2.0 (PyPI); telnet."
    assert params_summary("runtime-privileges", {"allow_privileged": False, "allowed_capabilities": []}) == \
        "Privileged mode not allowed; capabilities allowed: none."
    assert params_summary("banned-packages", {"packages": "everything"}) == "Invalid parameters."
