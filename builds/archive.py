"""Inspect an uploaded code package (tar.gz, tar or zip) and re-pack it as a clean tar. Pure Python:
no shell, no `tar` binary, nothing unpacked to disk.

The package is hostile input. One pass (`_scan`) reads it member by member and refuses, with an
ArchiveError saying why, anything that could land outside the build context, exhaust the worker or
mean different things to different extractors. `archive_inspect` and `archive_extract_to_tar` share
that pass, so the tar handed to the engine holds exactly the bytes that were checked: the engine
never parses the user's archive. Sizes are checked against the limits before a member is read, and
no reader ever returns more than the header declared (tarfile and zipfile stop there), so lying
headers cannot make us read past the limits.

Decisions on the open points:
- Symlinks are kept when their relative target stays inside the archive, following the archive's
  other symlinks on the way; absolute targets and targets that climb out are refused. No member
  may sit below a symlink (extracting it would write through the link).
- Hard links are kept when they point at a regular file earlier in the archive (tar's own rule);
  anything else is refused. They add no bytes, so they cannot multiply the total size.
- setuid/setgid/sticky bits are stripped, not refused: the re-pack masks every mode to 0o755/0o644,
  so no flag can survive even if a check were forgotten; `notes` tells the user.
- A folder may be listed twice; any other name that appears twice is refused, whatever the types,
  since which copy wins depends on the extractor.
- zip: only stored and deflated members (zipfile inflates bzip2/lzma without an output cap);
  backslashes are read as folder separators (PowerShell 5 writes them); encrypted members refused.
- `.paas` scripts: the project root is the archive root or, when every member sits inside one
  top-level folder other than `.paas` (`app-1.0/...`, as `git archive --prefix` and most tarballs
  make), that folder.
  Scripts are looked for only at `<root>.paas/`; there `.paas` must be a folder and each script a
  regular file no larger than `max_script_size`.
"""
import gzip
import hashlib
import io
import os
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from contextlib import contextmanager
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
_EXTENDED_TYPES = {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_KIND_WORDS = {"file": "file", "dir": "folder", "symlink": "symlink", "hardlink": "hard link"}
_ZIP_REFUSED = {stat.S_IFCHR: "a device file", stat.S_IFBLK: "a device file", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}


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
class _Entry:
    """One member as a format reader sees it, before any check."""
    name: str
    kind: str
    size: int
    mode: int
    target: str = ""
    open: Callable[[], BinaryIO] | None = None


def archive_inspect(path_or_fileobj, *, filename: str, limits: ArchiveLimits = ArchiveLimits()) -> ArchiveInfo:
    """Check a package without unpacking it; raises ArchiveError saying why it is refused.

    A file object must be binary and seekable; it is read from its start."""
    with _opened(path_or_fileobj) as fp:
        return _scan(fp, filename, limits)


def archive_extract_to_tar(path_or_fileobj, *, filename: str, limits: ArchiveLimits = ArchiveLimits(),
                           out: BinaryIO | tarfile.TarFile | None = None, prefix: str = "artifact/",
                           expected_sha256: str | None = None):
    """Re-pack the checked members as a deterministic tar (fixed time and owner, modes 0o755/0o644,
    each folder before its contents), every name under `prefix`.

    Returns the tar as bytes, or writes it to `out` and returns `out`: a binary file (a complete tar
    is written, `out` stays open) or a TarFile open for writing, such as the build context being
    assembled (members are added, nothing is closed). On ArchiveError whatever was written to
    `out` must be discarded. `expected_sha256` refuses a package that changed since it was checked.
    """
    base = _normalise(prefix) if prefix.strip("/") else ""
    own = None if isinstance(out, tarfile.TarFile) else (out if out is not None else io.BytesIO())
    tar = out if own is None else tarfile.open(fileobj=own, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8")
    with _opened(path_or_fileobj) as fp:
        _scan(fp, filename, limits, _TarWriter(tar, base + "/" if base else ""), expected_sha256)
    if own is None:
        return out
    tar.close()
    return own.getvalue() if out is None else out


@contextmanager
def _opened(path_or_fileobj):
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        with open(path_or_fileobj, "rb") as fp:
            yield fp
    else:
        yield path_or_fileobj


def _scan(fp, filename, limits, writer=None, expected_sha256=None) -> ArchiveInfo:
    fp.seek(0, io.SEEK_END)
    size = fp.tell()
    if size > limits.max_archive_size:
        raise ArchiveError(f"the archive is {size:,} bytes; the limit is {_amount(limits.max_archive_size)}")
    fp.seek(0)
    digest = hashlib.sha256()
    while chunk := fp.read(CHUNK):
        digest.update(chunk)
    if expected_sha256 and digest.hexdigest() != expected_sha256:
        raise ArchiveError("the package changed since it was checked (its sha256 differs)")
    fp.seek(0)
    head = fp.read(512)
    fp.seek(0)
    kind = _format(head)
    checker = _Checker(limits, size)
    try:
        if kind == "zip":
            entries = _zip_entries(fp, size, limits)
        else:
            stream = _TarStream(gzip.GzipFile(fileobj=fp, mode="rb") if kind == "tar.gz" else fp, limits, size)
            _format(stream.peek(512), tar_only=True)
            entries = _tar_entries(stream)
        for entry in entries:
            member = checker.admit(entry)
            if member is not None:
                _copy(member, entry, checker, writer)
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error, UnicodeError) as error:
        # Not every OSError: a full disk while writing `out` is not the uploader's fault.
        raise ArchiveError(f"the archive is damaged: {error}") from None
    root, scripts = checker.finish()
    notes = ()
    if checker.stripped:
        notes = (f"setuid/setgid bits were removed from {checker.stripped} member(s)",)
    return ArchiveInfo(filename=filename, format=kind, members=tuple(checker.members), paas_scripts=scripts, root=root,
                       sha256=digest.hexdigest(), archive_size=size, total_size=checker.total, notes=notes)


def _format(head: bytes, tar_only=False) -> str:
    """Magic bytes decide, not the file name: some servers hand out a .tar.gz already decompressed."""
    if not tar_only and head[:2] == b"\x1f\x8b":
        return "tar.gz"
    if not tar_only and head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[257:262] == b"ustar" or (len(head) == 512 and not head.strip(b"\0")):  # or an empty tar
        return "tar"
    raise ArchiveError(NOT_AN_ARCHIVE)


def _copy(member, entry, checker, writer):
    data = None
    if member.type == "file":
        data = _MemberData(entry.open(), member, checker)
    try:
        if writer is not None:
            writer.add(member, data)
        while data is not None and data.read(CHUNK):
            pass
    finally:
        if data is not None:
            data.stream.close()


class _MemberData:
    """One file's bytes as they are read: a short read is refused, and a .paas script is kept."""

    def __init__(self, stream, member, checker):
        self.stream, self.member, self.checker = stream, member, checker
        self.left = member.size

    def read(self, n=CHUNK):
        # Full reads only: tarfile.addfile takes a short read for the end of the data.
        want, data = min(n if n and n > 0 else CHUNK, self.left, CHUNK), b""
        while len(data) < want:
            more = self.stream.read(want - len(data))
            if not more:
                raise ArchiveError(f"{self.member.name!r}: the header says {self.member.size:,} bytes "
                                   f"but the data ends after {self.member.size - self.left + len(data):,}")
            data += more
        self.left -= len(data)
        self.checker.capture(self.member.name, data)
        return data


class _TarStream:
    """The tar stream as tarfile reads it, decompressed on demand and refused once it passes the
    total size (with an allowance for headers) or the overall ratio, whatever the headers say."""

    def __init__(self, inner, limits, archive_size):
        self.inner, self.limits, self.archive_size = inner, limits, archive_size
        self.cap = limits.max_total_size + limits.max_members * 4 * KiB
        self.count = 0
        self.pending = b""

    def peek(self, n):
        self.pending = self.read(n)
        return self.pending

    def read(self, n=-1):
        if self.pending:
            size = n if n and n > 0 else len(self.pending)
            data, self.pending = self.pending[:size], self.pending[size:]
            return data
        data = self.inner.read(min(n, CHUNK) if n and n > 0 else CHUNK)
        self.count += len(data)
        if self.count > self.cap:
            raise ArchiveError(f"the archive unpacks to more than {_amount(self.limits.max_total_size)}")
        if self.count > self.limits.ratio_floor and self.count > self.limits.max_ratio * self.archive_size:
            raise _ratio_error(self.limits)
        return data


class _StrictTarInfo(tarfile.TarInfo):
    """tarfile quietly ends the archive at a damaged header (so a header that lies about its size
    hides what follows); here that is an error. Extended headers may not be large either."""

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        info = super().frombuf(buf, encoding, errors)
        if info.type in _EXTENDED_TYPES and info.size > MAX_EXTENDED_HEADER:
            raise ArchiveError(f"the archive has an extended header larger than {_amount(MAX_EXTENDED_HEADER)}")
        return info

    @classmethod
    def fromtarfile(cls, tar):
        try:
            return super().fromtarfile(tar)
        except (tarfile.EOFHeaderError, tarfile.EmptyHeaderError):
            raise  # a zero block or the end of the data: the normal end of a tar
        except tarfile.HeaderError as error:
            raise ArchiveError(f"the archive is damaged: {error}") from None


def _tar_entries(stream):
    with tarfile.open(fileobj=stream, mode="r|", tarinfo=_StrictTarInfo, encoding="utf-8", errors="surrogateescape") as tar:
        for info in tar:
            kind = _tar_kind(info)
            opener = (lambda info=info: tar.extractfile(info)) if kind == "file" else None
            yield _Entry(info.name, kind, info.size if kind == "file" else 0, info.mode, info.linkname, opener)
        # tarfile stops at the first zero block; a header that understates its size followed by
        # zeros would silently drop the rest, so only zeros may follow the end.
        while chunk := tar.fileobj.read(CHUNK):
            if chunk.strip(b"\0"):
                raise ArchiveError("the archive is damaged: data follows the end of the tar (a header may lie about a size)")


def _tar_kind(info) -> str:
    if info.issparse():
        raise ArchiveError(f"{info.name!r} is a sparse file, which is not accepted")
    for kind, test in (("file", info.isreg), ("dir", info.isdir), ("symlink", info.issym), ("hardlink", info.islnk)):
        if test():
            return kind
    what = "a device file" if info.ischr() or info.isblk() else "a FIFO" if info.isfifo() else f"of unknown type {info.type!r}"
    raise ArchiveError(f"{info.name!r} is {what}; only files, folders and links are accepted")


def _zip_entries(fp, size, limits):
    _zip_directory_check(fp, size, limits)
    with zipfile.ZipFile(fp) as archive:
        for info in archive.infolist():
            name = info.orig_filename.replace("\\", "/")  # orig: zipfile cuts `filename` at a NUL
            if info.flag_bits & 0x1:
                raise ArchiveError(f"{name!r} is encrypted; upload an archive without a password")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ArchiveError(f"{name!r} uses a compression method other than deflate, which is not accepted")
            if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise _ratio_error(limits, name)
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            kind = _zip_kind(name, mode)
            target = ""
            if kind == "symlink":
                with archive.open(info) as link:
                    raw = link.read(MAX_LINK_TARGET + 1)
                target = raw.decode("utf-8", "surrogateescape")
            yield _Entry(name, kind, info.file_size if kind == "file" else 0, mode or 0o644, target,
                         lambda info=info: archive.open(info))


def _zip_kind(name, mode) -> str:
    kind = stat.S_IFMT(mode)
    if name.endswith("/") or kind == stat.S_IFDIR:
        return "dir"
    if kind in (0, stat.S_IFREG):
        return "file"
    if kind == stat.S_IFLNK:
        return "symlink"
    what = _ZIP_REFUSED.get(kind, "of an unknown type")
    raise ArchiveError(f"{name!r} is {what}; only files, folders and links are accepted")


def _zip_directory_check(fp, size, limits):
    """Count the central directory's entries before zipfile parses it: zipfile builds an object per
    entry and believes no count, so a small upload could otherwise make it build millions."""
    tail_size = min(size, 22 + 0xFFFF)
    fp.seek(size - tail_size)
    tail = fp.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise ArchiveError("the archive is damaged: the zip directory is missing")
    end = size - tail_size + at
    (directory_size,) = struct.unpack_from("<L", tail, at + 12)
    fp.seek(max(end - 20, 0))
    if end >= 76 and fp.read(4) == b"PK\x06\x07":  # zip64: the sizes are in the record before the locator
        end -= 76
        fp.seek(end)
        record = fp.read(56)
        if record[:4] != b"PK\x06\x06":
            raise ArchiveError("the archive is damaged: bad zip64 directory record")
        (directory_size,) = struct.unpack_from("<Q", record, 40)
    if directory_size > limits.max_members * KiB or directory_size > end:
        raise ArchiveError("the archive is damaged or has too many members: its zip directory is too large")
    position, count = end - directory_size, 0
    while position < end:
        fp.seek(position)
        header = fp.read(46)
        if len(header) < 46 or header[:4] != b"PK\x01\x02":
            raise ArchiveError("the archive is damaged: bad zip directory entry")
        count += 1
        if count > limits.max_members:
            raise ArchiveError(f"the archive has more than {limits.max_members:,} members")
        position += 46 + sum(struct.unpack_from("<3H", header, 28))


class _Checker:
    """The checks that need the members seen so far; fed one member at a time, in archive order."""

    def __init__(self, limits, archive_size):
        self.limits, self.archive_size = limits, archive_size
        self.members: list[ArchiveMember] = []
        self.kinds: dict[str, str] = {}  # name -> kind, for every listed member
        self.folders: set[str] = set()  # every folder that holds a member
        self.symlinks: dict[str, str] = {}
        self.resolved: dict[str, tuple[str, ...]] = {}
        self.scripts: dict[str, bytearray] = {}
        self.oversize: set[str] = set()
        self.first_top = None
        self.seen = self.total = self.stripped = 0

    def admit(self, entry: _Entry) -> ArchiveMember | None:
        """The checked member, or None for the archive's own root folder or a folder listed again."""
        self.seen += 1
        if self.seen > self.limits.max_members:
            raise ArchiveError(f"the archive has more than {self.limits.max_members:,} members")
        name = _normalise(entry.name, self.limits.max_depth)
        if not name:
            if entry.kind == "dir":
                return None
            raise ArchiveError(f"{entry.name!r} has no name")
        target = self._target(name, entry)
        if entry.kind == "file":
            self._count(name, entry.size)
        if not self._place(name, entry.kind):
            return None
        self.stripped += bool(entry.mode & (stat.S_ISUID | stat.S_ISGID))
        # A symlink's own mode means nothing on Linux: fix it so the output depends only on content.
        mode = 0o755 if entry.kind in ("dir", "symlink") or entry.mode & 0o111 else 0o644
        member = ArchiveMember(name, entry.kind, entry.size if entry.kind == "file" else 0, mode, target)
        self.members.append(member)
        self.first_top = self.first_top or name.split("/", 1)[0]
        if entry.kind == "file" and self._script_candidate(name):
            self.scripts[name] = bytearray()
        return member

    def _target(self, name, entry) -> str:
        if entry.kind == "symlink":
            target = entry.target
            if not target or len(target.encode("utf-8", "surrogateescape")) > MAX_LINK_TARGET or _CONTROL.search(target):
                raise ArchiveError(f"symlink {name!r} has an empty, overlong or unreadable target")
            _check_text(target, f"symlink {name!r}")
            if target.startswith("/"):
                raise ArchiveError(f"symlink {name!r} points outside the archive ({target!r})")
            self.symlinks[name] = target
            return target
        if entry.kind == "hardlink":
            try:
                target = _normalise(entry.target)
            except ArchiveError:
                raise ArchiveError(f"hard link {name!r} points outside the archive ({entry.target!r})") from None
            if self.kinds.get(target) != "file":
                raise ArchiveError(f"hard link {name!r} must point to a file earlier in the archive, not {entry.target!r}")
            return target
        return ""

    def _count(self, name, size):
        limits = self.limits
        if size > limits.max_member_size:
            raise ArchiveError(f"{name!r} is {size:,} bytes; the limit for one file is {_amount(limits.max_member_size)}")
        self.total += size
        if self.total > limits.max_total_size:
            raise ArchiveError(f"the archive unpacks to more than {_amount(limits.max_total_size)}")
        if self.total > limits.ratio_floor and self.total > limits.max_ratio * self.archive_size:
            raise _ratio_error(limits)

    def _place(self, name, kind) -> bool:
        """Record a member; False for a folder listed again. Refuses names that would replace another."""
        parents = _parents(name)
        for parent in parents:
            other = self.kinds.get(parent, "dir")
            if other != "dir":
                raise ArchiveError(f"{name!r} is inside {parent!r}, which is a {_KIND_WORDS[other]}")
        previous = self.kinds.get(name)
        if previous is not None:
            if previous == kind == "dir":
                return False
            both = "" if previous == kind else f" (as a {_KIND_WORDS[previous]} and as a {_KIND_WORDS[kind]})"
            raise ArchiveError(f"{name!r} appears twice in the archive{both}")
        if kind != "dir" and name in self.folders:
            raise ArchiveError(f"{name!r} is a {_KIND_WORDS[kind]} but other members are inside it")
        self.kinds[name] = kind
        self.folders.update(parents)
        return True

    def _script_candidate(self, name) -> bool:
        # Only the archive root and the first top-level folder can become the project root, so at
        # most four scripts are ever held in memory.
        top, _, rest = name.partition("/")
        return name in PAAS_SCRIPTS or (top == self.first_top and rest in PAAS_SCRIPTS)

    def capture(self, name, data):
        held = self.scripts.get(name)
        if held is None:
            return
        held += data
        if len(held) > self.limits.max_script_size:
            del self.scripts[name]
            self.oversize.add(name)

    def finish(self) -> tuple[str, dict[str, bytes]]:
        if not self.members:
            raise ArchiveError("the archive is empty")
        for name in self.symlinks:
            self._resolve(name)
        tops = {name.split("/", 1)[0] for name in self.kinds}
        root = ""
        if tops == {self.first_top} != {".paas"} and self.kinds.get(self.first_top, "dir") == "dir":
            root = self.first_top + "/"
        if self.kinds.get(root + ".paas", "dir") != "dir":
            raise ArchiveError(f"{root}.paas must be a folder")
        scripts = {}
        for script in PAAS_SCRIPTS:
            path, kind = root + script, self.kinds.get(root + script)
            if kind is not None and kind != "file":
                raise ArchiveError(f"{path} must be a regular file, not a {_KIND_WORDS[kind]}")
            if path in self.oversize:
                raise ArchiveError(f"{path} is larger than {_amount(self.limits.max_script_size)}")
            if kind is not None:
                scripts[script] = bytes(self.scripts[path])
        return root, scripts

    def _resolve(self, name, hops=0) -> tuple[str, ...]:
        """Where symlink `name` leads, as parts of a path inside the archive; refuses a way out."""
        if name in self.resolved:
            return self.resolved[name]
        if hops > MAX_SYMLINK_HOPS:
            raise ArchiveError(f"symlink {name!r} leads through more than {MAX_SYMLINK_HOPS} symlinks")
        target, parts = self.symlinks[name], name.split("/")[:-1]
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise ArchiveError(f"symlink {name!r} points outside the archive ({target!r})")
                parts.pop()
                continue
            parts.append(part)
            if self.kinds.get("/".join(parts)) == "symlink":
                parts = list(self._resolve("/".join(parts), hops + 1))
        self.resolved[name] = tuple(parts)
        return self.resolved[name]


class _TarWriter:
    """Writes checked members as a clean tar: fixed owner and time, masked modes, folders first."""

    def __init__(self, tar, prefix):
        self.tar, self.prefix, self.folders = tar, prefix, set()
        if prefix:
            for folder in _parents(prefix + "-"):
                self._folder(folder)

    def add(self, member, data):
        name = self.prefix + member.name
        for folder in _parents(name):
            self._folder(folder)
        if member.type == "dir":
            return self._folder(name)
        info = _header(name, member.mode)
        if member.type == "file":
            info.size = member.size
        elif member.type == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, member.target
        else:
            info.type, info.linkname = tarfile.LNKTYPE, self.prefix + member.target
        self.tar.addfile(info, data)

    def _folder(self, name):
        if name not in self.folders:
            self.folders.add(name)
            info = _header(name, 0o755)
            info.type = tarfile.DIRTYPE
            self.tar.addfile(info)


def _header(name, mode) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = mode, FIXED_MTIME, 0, 0, "root", "root"
    return info


def _normalise(raw: str, max_depth: int = 32) -> str:
    """A member name as a clean relative path ("" for the root itself), or ArchiveError."""
    _check_text(raw, repr(raw))
    if _CONTROL.search(raw):
        raise ArchiveError(f"{raw!r} contains a NUL or control character")
    if raw.startswith("/"):
        raise ArchiveError(f"{raw!r} is an absolute path")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{raw!r} climbs out of the archive (path traversal with '..')")
    if len(parts) > max_depth:
        raise ArchiveError(f"{raw!r} is nested more than {max_depth} folders deep")
    if any(len(part.encode()) > 255 for part in parts):
        raise ArchiveError(f"{raw!r} has a name part longer than 255 bytes")
    return "/".join(parts)


def _check_text(text, what):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ArchiveError(f"{what} is not valid UTF-8") from None


def _parents(name) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:depth]) for depth in range(1, len(parts))]


def _ratio_error(limits, name=None) -> ArchiveError:
    what = f"{name!r} compresses" if name else "the archive compresses"
    return ArchiveError(f"{what} more than {limits.max_ratio}:1, which looks like a zip bomb")


def _amount(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"
