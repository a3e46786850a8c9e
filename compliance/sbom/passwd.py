"""Parse /etc/passwd into user name -> uid."""
from __future__ import annotations


def parse_passwd(text: str) -> dict[str, int]:
    """Users of an /etc/passwd; malformed lines are skipped, the first entry of a name wins
    (as getpwnam does)."""
    users: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) < 3 or not fields[0] or fields[0].startswith(("#", "+", "-")):
            continue  # comments and NIS "+"/"-" entries name no local user
        try:
            users.setdefault(fields[0], int(fields[2]))
        except ValueError:
            continue
    return users
