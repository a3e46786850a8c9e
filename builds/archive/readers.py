"""Read the members of a tar, tar.gz or zip package as Entry records, refusing what tarfile and
zipfile would quietly accept (damaged headers, oversized extended headers, lying sizes, devices,
encrypted or exotic zip members). The checks that need all members seen so far are in
builds/archive/checks.py."""
import stat
import struct
import tarfile
import zipfile

from builds.archive.types import (
    CHUNK,
    EXTENDED_TYPES,
    MAX_EXTENDED_HEADER,
    MAX_LINK_TARGET,
    NOT_AN_ARCHIVE,
    ZIP_REFUSED,
    ArchiveError,
    Entry,
    KiB,
    amount,
    ratio_error,
)


def archive_format(head: bytes, tar_only=False) -> str:
    """Magic bytes decide, not the file name: some servers hand out a .tar.gz already decompressed."""
    if not tar_only and head[:2] == b"\x1f\x8b":
        return "tar.gz"
    if not tar_only and head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[257:262] == b"ustar" or (len(head) == 512 and not head.strip(b"\0")):  # or an empty tar
        return "tar"
    raise ArchiveError(NOT_AN_ARCHIVE)


class TarStream:
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
            raise ArchiveError(f"the archive unpacks to more than {amount(self.limits.max_total_size)}")
        if self.count > self.limits.ratio_floor and self.count > self.limits.max_ratio * self.archive_size:
            raise ratio_error(self.limits)
        return data


class _StrictTarInfo(tarfile.TarInfo):
    """tarfile quietly ends the archive at a damaged header (so a header that lies about its size
    hides what follows); here that is an error. Extended headers may not be large either."""

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        info = super().frombuf(buf, encoding, errors)
        if info.type in EXTENDED_TYPES and info.size > MAX_EXTENDED_HEADER:
            raise ArchiveError(f"the archive has an extended header larger than {amount(MAX_EXTENDED_HEADER)}")
        return info

    @classmethod
    def fromtarfile(cls, tar):
        try:
            return super().fromtarfile(tar)
        except (tarfile.EOFHeaderError, tarfile.EmptyHeaderError):
            raise  # a zero block or the end of the data: the normal end of a tar
        except tarfile.HeaderError as error:
            raise ArchiveError(f"the archive is damaged: {error}") from None


def tar_entries(stream):
    with tarfile.open(fileobj=stream, mode="r|", tarinfo=_StrictTarInfo, encoding="utf-8", errors="surrogateescape") as tar:
        for info in tar:
            kind = _tar_kind(info)
            opener = (lambda info=info: tar.extractfile(info)) if kind == "file" else None
            yield Entry(info.name, kind, info.size if kind == "file" else 0, info.mode, info.linkname, opener)
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


def zip_entries(fp, size, limits):
    _zip_directory_check(fp, size, limits)
    with zipfile.ZipFile(fp) as archive:
        for info in archive.infolist():
            name = info.orig_filename.replace("\\", "/")  # orig: zipfile cuts `filename` at a NUL
            if info.flag_bits & 0x1:
                raise ArchiveError(f"{name!r} is encrypted; upload an archive without a password")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ArchiveError(f"{name!r} uses a compression method other than deflate, which is not accepted")
            if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise ratio_error(limits, name)
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            kind = _zip_kind(name, mode)
            target = ""
            if kind == "symlink":
                with archive.open(info) as link:
                    raw = link.read(MAX_LINK_TARGET + 1)
                target = raw.decode("utf-8", "surrogateescape")
            yield Entry(name, kind, info.file_size if kind == "file" else 0, mode or 0o644, target,
                         lambda info=info: archive.open(info))


def _zip_kind(name, mode) -> str:
    kind = stat.S_IFMT(mode)
    if name.endswith("/") or kind == stat.S_IFDIR:
        return "dir"
    if kind in (0, stat.S_IFREG):
        return "file"
    if kind == stat.S_IFLNK:
        return "symlink"
    what = ZIP_REFUSED.get(kind, "of an unknown type")
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
