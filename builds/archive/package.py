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
import tarfile
import zipfile
import zlib
from contextlib import contextmanager
from typing import BinaryIO

from builds.archive.checks import MemberChecker, name_normalise, parents_of
from builds.archive.readers import TarStream, archive_format, tar_entries, zip_entries
from builds.archive.types import (
    CHUNK,
    FIXED_MTIME,
    NOT_AN_ARCHIVE,
    PAAS_SCRIPTS,
    ArchiveError,
    ArchiveInfo,
    ArchiveLimits,
    ArchiveMember,
    amount,
)

__all__ = ["ArchiveError", "ArchiveInfo", "ArchiveLimits", "ArchiveMember", "FIXED_MTIME", "NOT_AN_ARCHIVE", "PAAS_SCRIPTS",
           "archive_extract_to_tar", "archive_inspect"]


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
    base = name_normalise(prefix) if prefix.strip("/") else ""
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
        raise ArchiveError(f"the archive is {size:,} bytes; the limit is {amount(limits.max_archive_size)}")
    fp.seek(0)
    digest = hashlib.sha256()
    while chunk := fp.read(CHUNK):
        digest.update(chunk)
    if expected_sha256 and digest.hexdigest() != expected_sha256:
        raise ArchiveError("the package changed since it was checked (its sha256 differs)")
    fp.seek(0)
    head = fp.read(512)
    fp.seek(0)
    kind = archive_format(head)
    checker = MemberChecker(limits, size)
    try:
        if kind == "zip":
            entries = zip_entries(fp, size, limits)
        else:
            stream = TarStream(gzip.GzipFile(fileobj=fp, mode="rb") if kind == "tar.gz" else fp, limits, size)
            archive_format(stream.peek(512), tar_only=True)
            entries = tar_entries(stream)
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


class _TarWriter:
    """Writes checked members as a clean tar: fixed owner and time, masked modes, folders first."""

    def __init__(self, tar, prefix):
        self.tar, self.prefix, self.folders = tar, prefix, set()
        if prefix:
            for folder in parents_of(prefix + "-"):
                self._folder(folder)

    def add(self, member, data):
        name = self.prefix + member.name
        for folder in parents_of(name):
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
