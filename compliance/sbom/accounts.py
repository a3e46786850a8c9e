"""The image's own accounts: /etc/passwd, /etc/group and /etc/shadow read into plain data, and the
user a container of the image runs as, resolved the way the engine resolves `USER`. Pure.

No password hash is ever kept: /etc/shadow only tells whether an account needs a password
("set"), has none at all ("none": `su` lets anyone in, PAM's `nullok` being Debian's default)
or cannot be logged into ("locked").

`runtime_user` follows runc's `GetExecUser` (which Docker's daemon calls with the image's own
/etc/passwd and /etc/group): a numeric user is a uid whether or not passwd lists it, and takes
the primary group of the first passwd entry with that uid, or group 0 when there is none (so
`USER 10001` on an image without that uid runs with gid 0); a name must be in passwd; an explicit
group replaces the primary group and then no supplementary groups are added; otherwise every
group that lists the user's name is a supplementary group.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from compliance.sbom.models import Account, GroupEntry
from compliance.sbom.overlay import LayerFile

_NUMBER = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi accepts
_MAX_ID = 2**31 - 1

Entry = TypeVar("Entry", Account, GroupEntry)


ACCOUNT_FILES = frozenset({"etc/passwd", "etc/group", "etc/shadow"})


def without_password_hashes(data: bytes) -> bytes:
    """An account file with each line's password field cut to what the parsers here read of it:
    "" (none), "x" (in /etc/shadow), "*" or "!" (locked), or "set". The reader keeps these files
    so (and so stores them in layer records): no hash is kept anywhere."""
    lines = []
    for line in data.decode("utf-8", errors="replace").splitlines(keepends=True):
        content = line.splitlines()[0]
        fields = content.split(":")
        if len(fields) > 1:
            fields[1] = _kept_password(fields[1])
        lines.append(":".join(fields) + line[len(content):])
    return "".join(lines).encode()


def _kept_password(field: str) -> str:
    if field in ("", "x"):
        return field
    return field[0] if field[0] in "*!" else "set"


def _local_fields(line: str, count: int) -> list[str] | None:
    fields = line.rstrip("\n").split(":")
    if len(fields) < count or not fields[0] or fields[0].startswith(("#", "+", "-")):
        return None  # comments and NIS "+"/"-" entries name no local account
    return fields


def _id(text: str) -> int | None:
    return int(text) if _NUMBER.fullmatch(text.strip()) else None


def parse_shadow(text: str) -> dict[str, str]:
    """/etc/shadow -> name -> "none", "locked" or "set" (first entry of a name wins)."""
    states: dict[str, str] = {}
    for line in text.splitlines():
        fields = _local_fields(line, 2)
        if fields is not None:
            states.setdefault(fields[0], _password_state(fields[1]))
    return states


def _password_state(field: str) -> str:
    if field == "":
        return "none"
    return "locked" if field.startswith(("*", "!")) else "set"


def parse_accounts(passwd: str, shadow: dict[str, str] | None = None) -> list[Account]:
    """Every well-formed /etc/passwd line, in file order (duplicates included: a rule must see a
    second uid-0 line even when getpwnam would never return it). `shadow` as `parse_shadow` gives it."""
    accounts = []
    for line in passwd.splitlines():
        fields = _local_fields(line, 4)
        if fields is None:
            continue
        uid, gid = _id(fields[2]), _id(fields[3])
        if uid is None or gid is None:
            continue
        in_shadow = fields[1] == "x"  # the password is in /etc/shadow; without an entry there, nobody logs in
        password = (shadow or {}).get(fields[0], "locked") if in_shadow else _password_state(fields[1])
        accounts.append(Account(name=fields[0], uid=uid, gid=gid, password=password, password_in_shadow=in_shadow))
    return accounts


def parse_groups(text: str) -> list[GroupEntry]:
    """Every well-formed /etc/group line, in file order."""
    groups = []
    for line in text.splitlines():
        fields = _local_fields(line, 3)
        if fields is None:
            continue
        gid = _id(fields[2])
        if gid is None:
            continue
        members = tuple(m.strip() for m in (fields[3] if len(fields) > 3 else "").split(",") if m.strip())
        groups.append(GroupEntry(name=fields[0], gid=gid, members=members))
    return groups


def with_origin(copies: list[LayerFile], parse: Callable[[str], list[Entry]]) -> list[Entry]:
    """The entries of the last copy (`copies` oldest first, as `scan_layers` keeps them), each
    with the first layer of the unbroken run of copies, ending at the top, that hold the same
    entry: appending a user rewrites the whole file, and must not blame that layer for root."""
    if not copies:
        return []
    parsed = [parse(copy.data.decode("utf-8", errors="replace")) for copy in copies]
    earlier = [{_key(entry) for entry in entries} for entries in parsed[:-1]]
    result = []
    for entry in parsed[-1]:
        first = len(copies) - 1
        while first > 0 and _key(entry) in earlier[first - 1]:
            first -= 1
        result.append(replace(entry, layer_index=copies[first].layer_index))
    return result


def _key(entry: Account | GroupEntry) -> tuple:
    return tuple(value for name, value in vars(entry).items() if name != "layer_index")


@dataclass(frozen=True)
class RuntimeUser:
    """Who a container of the image runs as. `problem` is why the engine would refuse to start it
    ("" when it starts); uid and gid are then None."""

    spec: str
    uid: int | None
    gid: int | None
    name: str = ""  # the passwd entry the user matched, "" for a uid passwd does not list
    supplementary: tuple[int, ...] = ()
    problem: str = ""


def runtime_user(spec: str, accounts: list[Account], groups: list[GroupEntry]) -> RuntimeUser:
    """The user, primary group and supplementary groups of `USER spec` in this image."""
    spec = spec.strip()
    user_arg, _, group_arg = spec.partition(":")
    uid_arg, gid_arg = _id(user_arg), _id(group_arg)
    if not user_arg:
        match = next((a for a in accounts if a.uid == 0), None)
    elif uid_arg is not None:
        match = next((a for a in accounts if a.uid == uid_arg), None)
    else:
        match = next((a for a in accounts if a.name == user_arg), None)
    if match is not None:
        uid, gid, name = match.uid, match.gid, match.name
    elif not user_arg:
        uid, gid, name = 0, 0, ""
    elif uid_arg is None:
        return RuntimeUser(spec, None, None, problem=f"user '{user_arg}' not found in /etc/passwd")
    elif not 0 <= uid_arg <= _MAX_ID:
        return RuntimeUser(spec, None, None, problem=f"uid {uid_arg} is out of range")
    else:
        uid, gid, name = uid_arg, 0, ""  # the engine's default group: root's
    if group_arg:
        found = next((g for g in groups if (g.gid == gid_arg if gid_arg is not None else g.name == group_arg)), None)
        if found is not None:
            return RuntimeUser(spec, uid, found.gid, name)
        if gid_arg is None:
            return RuntimeUser(spec, None, None, name, problem=f"group '{group_arg}' not found in /etc/group")
        if not 0 <= gid_arg <= _MAX_ID:
            return RuntimeUser(spec, None, None, name, problem=f"gid {gid_arg} is out of range")
        return RuntimeUser(spec, uid, gid_arg, name)
    supplementary = tuple(g.gid for g in groups if name and name in g.members)
    return RuntimeUser(spec, uid, gid, name, supplementary)
