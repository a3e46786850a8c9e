"""Entries of a layer tar that can change privileges: setuid/setgid files, file capabilities and
world-writable entries under system paths. Pure: tar headers in, `SpecialFile` out.

Docker writes a file's `security.capability` xattr into the layer tar as the PAX record
`SCHILY.xattr.security.capability` (checked on Docker 20.10: `setcap cap_net_raw+ep`, then
`docker commit`/`docker build`, gives that record with the raw `vfs_cap_data` bytes); Python's
tarfile hands PAX values back as text decoded with surrogateescape, so the bytes are recovered
exactly. libarchive's own record (`LIBARCHIVE.xattr.*`, base64) is read too, for layers made by
other tools.

World-writable entries count only under SYSTEM_DIRS: the programs, libraries and configuration
that root processes (a `docker exec` shell, a setuid program, the dynamic loader, PAM) run or
read, and root's home. Anyone able to write there can change what a more privileged process
does. Data areas (/tmp, /var, /run, /home, /srv, /opt, /app) are the application's own business
and are left alone. Sticky directories under system paths still count: the sticky bit stops
deleting other users' files, not adding new programs next to them.
"""
from __future__ import annotations

import base64
import struct
import tarfile

from compliance.sbom.models import SpecialFile

SYSTEM_DIRS = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "boot", "root"})
CAPABILITY_XATTR = "SCHILY.xattr.security.capability"
_LIBARCHIVE_XATTR = "LIBARCHIVE.xattr.security.capability"

# capabilities(7) by number, from linux/capability.h (0 to 40 as of Linux 6.x).
CAPABILITY_NAMES = (
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
    "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
    "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
    "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
    "checkpoint_restore",
)
# VFS_CAP_REVISION_1..3 -> (size of the value, 32-bit words per capability set); revision 3 adds a root uid.
_REVISIONS = {0x01000000: (12, 1), 0x02000000: (20, 2), 0x03000000: (24, 2)}


def is_system_path(path: str) -> bool:
    """`path` (normalised, no leading '/') is a system directory or lies below one."""
    return path.split("/", 1)[0] in SYSTEM_DIRS


def capability_xattr(member: tarfile.TarInfo) -> bytes | None:
    """The raw `security.capability` value of a tar entry, or None when it has none."""
    value = member.pax_headers.get(CAPABILITY_XATTR)
    if value is not None:
        return value.encode("utf-8", "surrogateescape")
    value = member.pax_headers.get(_LIBARCHIVE_XATTR)
    if value is not None:
        try:
            return base64.b64decode(value)
        except ValueError:
            return value.encode("utf-8", "surrogateescape")
    return None


def capabilities_text(raw: bytes) -> str:
    """`vfs_cap_data` in getcap's spelling ("cap_net_admin,cap_net_raw=ep"). A value the kernel
    would not accept is still reported, as unreadable: the rule must not take it for nothing."""
    if len(raw) < 4:
        return f"unreadable security.capability ({len(raw)} bytes)"
    magic = struct.unpack_from("<I", raw)[0]
    size, words = _REVISIONS.get(magic & 0xFF000000, (0, 0))
    if not size or len(raw) != size:
        return f"unreadable security.capability ({len(raw)} bytes, revision {magic >> 24:#x})"
    effective = bool(magic & 0x000001)
    sets = struct.unpack_from(f"<{2 * words}I", raw, 4)
    permitted = sum(sets[2 * i] << (32 * i) for i in range(words))
    inheritable = sum(sets[2 * i + 1] << (32 * i) for i in range(words))
    groups: dict[str, list[str]] = {}
    for number in range(64):
        bit = 1 << number
        if not (permitted | inheritable) & bit:
            continue
        flags = ("e" if effective and permitted & bit else "") + ("i" if inheritable & bit else "") \
            + ("p" if permitted & bit else "")
        name = CAPABILITY_NAMES[number] if number < len(CAPABILITY_NAMES) else str(number)
        groups.setdefault(flags, []).append(f"cap_{name}")
    if not groups:
        return "empty security.capability" + (" (effective)" if effective else "")
    return " ".join(f"{','.join(names)}={flags}" for flags, names in groups.items())


def special_entry(member: tarfile.TarInfo, path: str, layer_index: int) -> SpecialFile | None:
    """The entry as a `SpecialFile` when it can change privileges, else None. A symlink never
    does (its own mode is always 0777 and means nothing); a hard link carries its own mode and
    xattrs in Docker's layer tars."""
    if member.issym():
        return None
    mode = member.mode & 0o7777  # Go's tar writer leaves the file type bits in the mode field
    kind = ("file" if member.isreg() else "hardlink" if member.islnk() else "dir" if member.isdir() else "other")
    raw = capability_xattr(member)
    setid = kind in ("file", "hardlink") and bool(mode & 0o6000)
    writable = bool(mode & 0o002) and is_system_path(path)
    if not (setid or writable or raw is not None):
        return None
    return SpecialFile(path=path, layer_index=layer_index, type=kind, mode=mode, uid=member.uid, gid=member.gid,
                       capabilities=capabilities_text(raw) if raw is not None else "")
