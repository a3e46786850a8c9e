"""The image's accounts and the user its containers run as, resolved as the engine (runc) does."""
import pytest

from compliance.sbom.accounts import (
    parse_accounts,
    parse_groups,
    parse_shadow,
    runtime_user,
    with_origin,
    without_password_hashes,
)
from compliance.sbom.facts import facts_from_layers
from compliance.sbom.layers import LayerFile
from compliance.sbom.models import Account, GroupEntry
from compliance.sbom.passwd import parse_passwd
from tests.compliance.sbom.sbom_tars import layer

PASSWD = ("root:x:0:0:root:/root:/bin/bash\n"
          "# a comment\n"
          "daemon:x:1:1::/:/usr/sbin/nologin\n"
          "app:x:10001:10001:app:/app:/bin/sh\n"
          "wheel:x:10002:0::/:/bin/sh\n"
          "evil::0:0::/root:/bin/sh\n"
          "+nis::::::\n"
          "bad:x:notanumber:1::/:/bin/sh\n"
          "short:x:3\n"
          "app:x:0:0:a second app line:/:/bin/sh\n")
GROUP = "root:x:0:\nadm:x:4:syslog,app\napp:x:10001:\nsudo0:x:0:app, ops \nbad:x:zz:\n"
SHADOW = "root:*:19000:0:99999:7:::\ndaemon:!:19000::::::\napp:$6$salt$hash:19000::::::\nempty::19000::::::\n"


def test_it_reads_every_account_in_file_order_with_password_states_and_no_hash():
    accounts = parse_accounts(PASSWD, parse_shadow(SHADOW))
    assert [(a.name, a.uid, a.gid, a.password) for a in accounts] == [
        ("root", 0, 0, "locked"), ("daemon", 1, 1, "locked"), ("app", 10001, 10001, "set"), ("wheel", 10002, 0, "locked"),
        ("evil", 0, 0, "none"), ("app", 0, 0, "set")]
    assert "$6$" not in repr(accounts)


def test_an_x_without_a_shadow_entry_is_locked_and_an_empty_shadow_field_needs_no_password():
    accounts = parse_accounts("root:x:0:0::/:/bin/sh\nempty:x:5:5::/:/bin/sh\n", parse_shadow("empty::1::::::\n"))
    assert [a.password for a in accounts] == ["locked", "none"]
    assert parse_accounts("root:x:0:0::/:/bin/sh\n")[0].password == "locked", "no /etc/shadow at all"


def test_it_reads_groups_and_their_members():
    assert parse_groups(GROUP) == [
        GroupEntry(name="root", gid=0), GroupEntry(name="adm", gid=4, members=("syslog", "app")),
        GroupEntry(name="app", gid=10001), GroupEntry(name="sudo0", gid=0, members=("app", "ops"))]


def copy(text, layer_index):
    return LayerFile("etc/passwd", text.encode(), layer_index)


def test_an_account_s_layer_is_the_one_that_added_its_line_not_the_last_writer_of_the_file():
    base = "root:x:0:0::/root:/bin/sh\n"
    copies = [copy(base, 0), copy(base + "app:x:10001:10001::/app:/bin/sh\n", 2),
              copy(base + "app:x:10001:10001::/app:/bin/sh\nevil::0:0::/:/bin/sh\n", 4)]
    accounts = with_origin(copies, parse_accounts)
    assert [(a.name, a.layer_index) for a in accounts] == [("root", 0), ("app", 2), ("evil", 4)]
    app = "app:x:10001:10001::/app:/bin/sh\n"
    changed = with_origin([copy(base + app, 0), copy(base + app.replace("10001:10001", "0:0"), 3)], parse_accounts)
    assert [(a.name, a.uid, a.layer_index) for a in changed] == [("root", 0, 0), ("app", 0, 3)], \
        "a changed line is the later layer's"


def test_facts_read_accounts_groups_and_shadow_from_the_layers_with_their_layers():
    layers = [layer(("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"), ("etc/group", b"root:x:0:\n"),
                    ("etc/shadow", b"root:*:1::::::\n")),
              layer(("etc/passwd", b"root:x:0:0::/root:/bin/sh\nevil::0:0::/:/bin/sh\n"),
                    ("etc/group", b"root:x:0:app\n"))]
    facts = facts_from_layers(repository="r", digest="sha256:d", layer_digests=["sha256:a", "sha256:b"],
                              config={"config": {}}, layers=layers)
    privileges = facts.privileges
    assert privileges.accounts == [Account(name="root", uid=0, gid=0, password="locked", layer_index=0,
                                           password_in_shadow=True),
                                   Account(name="evil", uid=0, gid=0, password="none", layer_index=1)]
    assert privileges.groups == [GroupEntry(name="root", gid=0, members=("app",), layer_index=1)]
    assert privileges.shadow_layer_index == 0
    assert facts.passwd == {"root": 0, "evil": 0}


ACCOUNTS = parse_accounts("root:x:0:0::/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n"
                          "rootgroup:x:10002:0::/:/bin/sh\nops:x:10003:10003::/:/bin/sh\n")
GROUPS = parse_groups("root:x:0:ops\napp:x:10001:\ndocker:x:999:app\n")


@pytest.mark.parametrize("spec, uid, gid, name, supplementary", [
    ("", 0, 0, "root", ()),  # no USER: root
    ("app", 10001, 10001, "app", (999,)),
    ("10001", 10001, 10001, "app", (999,)),  # a uid passwd lists takes that entry's group and name
    ("10001:10001", 10001, 10001, "app", ()),  # an explicit group: no supplementary groups
    ("10001:docker", 10001, 999, "app", ()),
    ("4242", 4242, 0, "", ()),  # a uid passwd does not list runs with group 0
    ("4242:4242", 4242, 4242, "", ()),  # a numeric group needs no /etc/group entry
    ("rootgroup", 10002, 0, "rootgroup", ()),
    ("ops", 10003, 10003, "ops", (0,)),  # member of root's group in /etc/group
    ("app:0", 10001, 0, "app", ()),
    ("+10001", 10001, 10001, "app", (999,)),  # what Go's Atoi reads as a number
])
def test_it_resolves_the_runtime_user_as_the_engine_does(spec, uid, gid, name, supplementary):
    user = runtime_user(spec, ACCOUNTS, GROUPS)
    assert (user.uid, user.gid, user.name, user.supplementary, user.problem) == (uid, gid, name, supplementary, "")


@pytest.mark.parametrize("spec, problem", [
    ("ghost", "user 'ghost' not found in /etc/passwd"),
    ("app:nogroup", "group 'nogroup' not found in /etc/group"),
    ("99999999999", "out of range"),
])
def test_it_says_why_the_engine_would_refuse_to_start(spec, problem):
    user = runtime_user(spec, ACCOUNTS, GROUPS)
    assert problem in user.problem and user.uid is None and user.gid is None


def test_account_files_are_kept_without_their_hashes_and_parse_the_same():
    passwd = ("root:x:0:0::/root:/bin/sh\nold:$1$ab$oldhash:1:1::/:/bin/sh\nnopw::2:2::/:/bin/sh\r\n"
              "locked:!$6$s$lockedhash:3:3::/:/bin/sh\n# c:commenthash:0:0\n  spaced:x:4:4::/:/bin/sh\nodd\n")
    shadow = ("root:$6$salt$roothash:19000::::::\napp:!$6$x$apphash:1::\nnone::1\nstar:*:1\x0c"
              "next:$y$j9T$nexthash\nlast:$6$s$lasthash")
    group = "root:x:0:\nadmins:$6$g$grouphash:10:alice,bob\nbare\n"
    for text, parse in ((passwd, parse_accounts), (passwd, parse_passwd), (shadow, parse_shadow), (group, parse_groups)):
        kept = without_password_hashes(text.encode()).decode()
        assert parse(kept) == parse(text)
        assert "hash" not in kept
    assert without_password_hashes(b"root:\xff$6$x:0:0\n") == b"root:set:0:0\n"
