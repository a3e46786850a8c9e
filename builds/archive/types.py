"""The limits, results and errors of reading an uploaded code package (see builds/archive/package.py), shared
by its format readers and its checks."""
import re
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Callable

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
PAAS_SCRIPTS = (".paas/build-env.sh", ".paas/image-env.sh")
NOT_AN_ARCHIVE = "not a tar.gz, tar or zip archive"
# Fixed for reproducible output, and after 1980 so that a build step zipping these files (DOS
# timestamps) does not fail.
FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z
CHUNK = 1 * MiB
MAX_LINK_TARGET = 1024
MAX_SYMLINK_HOPS = 40  # Linux's own limit before ELOOP
# tarfile reads a pax or GNU long-name header's data whole into memory: keep that small.
MAX_EXTENDED_HEADER = 64 * KiB
EXTENDED_TYPES = {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
KIND_WORDS = {"file": "file", "dir": "folder", "symlink": "symlink", "hardlink": "hard link"}
ZIP_REFUSED = {stat.S_IFCHR: "a device file", stat.S_IFBLK: "a device file", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}


class ArchiveError(ValueError):
    """The package is refused; the message says why, in the uploader's terms."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 20_000
    max_member_size: int = 200 * MiB
    max_total_size: int = 1 * GiB  # uncompressed bytes of all files
    max_archive_size: int = 1 * GiB  # the uploaded file itself
    max_ratio: int = 100  # uncompressed:compressed, overall and per zip member...
    ratio_floor: int = 4 * MiB  # ...once past this size: small inputs legitimately compress very well
    max_depth: int = 32
    max_script_size: int = 64 * KiB


@dataclass(frozen=True)
class ArchiveMember:
    name: str  # normalised: relative, '/'-separated, no '.', '..', or trailing '/'
    type: str  # "file" | "dir" | "symlink" | "hardlink"
    size: int = 0  # bytes of data; files only
    mode: int = 0o644  # as re-packed: 0o755 (folders, symlinks, executables) or 0o644
    target: str = ""  # a symlink's target as written, or the member a hard link names


@dataclass(frozen=True)
class ArchiveInfo:
    filename: str
    format: str  # "tar.gz" | "tar" | "zip"
    members: tuple[ArchiveMember, ...]
    paas_scripts: dict[str, bytes]  # ".paas/build-env.sh" / ".paas/image-env.sh" -> content
    root: str  # "" or "app-1.0/": where the project and its .paas folder sit
    sha256: str
    archive_size: int
    total_size: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One member as a format reader sees it, before any check."""
    name: str
    kind: str
    size: int
    mode: int
    target: str = ""
    open: Callable[[], BinaryIO] | None = None


def ratio_error(limits, name=None) -> ArchiveError:
    what = f"{name!r} compresses" if name else "the archive compresses"
    return ArchiveError(f"{what} more than {limits.max_ratio}:1, which looks like a zip bomb")


def amount(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"
