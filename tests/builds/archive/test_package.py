"""The package inspector and re-packer: every hostile archive is refused with a message saying why,
and the tar handed to the engine is deterministic and holds exactly what was checked."""
import gzip
import hashlib
import io
import stat
import tarfile
import zipfile

import pytest

from builds.archive.package import (
    FIXED_MTIME,
    NOT_AN_ARCHIVE,
    ArchiveError,
    ArchiveLimits,
    archive_extract_to_tar,
    archive_inspect,
)

MiB = 1 << 20
SCRIPT = b"#!/bin/sh\nexport PIP_INDEX_URL=https://pypi.internal.example/simple\n"


def entry(name, data=b"", *, kind=tarfile.REGTYPE, mode=0o644, link="", mtime=1_700_000_000, uid=1000):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.mtime, info.uid, info.uname = kind, mode, link, mtime, uid, "dev"
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def tar_bytes(*entries, fmt=tarfile.USTAR_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def write(path, raw: bytes, gz=True):
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return path


def tgz(tmp_path, *entries, name="package.tar.gz", fmt=tarfile.USTAR_FORMAT):
    return write(tmp_path / name, tar_bytes(*entries, fmt=fmt))


def zip_file(tmp_path, *entries, name="package.zip", method=zipfile.ZIP_DEFLATED):
    """entries: (name, data) or (name, data, unix mode including the file type bits)."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", method) as archive:
        for item in entries:
            info = zipfile.ZipInfo(item[0])
            info.compress_type = method
            if len(item) > 2:
                info.create_system, info.external_attr = 3, item[2] << 16
            archive.writestr(info, item[1])
    return path


def refused(path, match, **limits):
    with pytest.raises(ArchiveError, match=match):
        archive_inspect(path, filename=path.name, limits=ArchiveLimits(**limits))


def tar_header_patch(raw: bytes, offset: int, size: int) -> bytes:
    """Rewrite a ustar header's size field and its checksum, as a lying archiver would."""
    header = bytearray(raw[offset:offset + 512])
    header[124:136] = b"%011o\0" % size
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return raw[:offset] + bytes(header) + raw[offset + 512:]


# --- what an accepted package yields ---

def test_it_lists_members_and_reads_paas_scripts_at_the_root(tmp_path):
    path = tgz(tmp_path, entry("./", kind=tarfile.DIRTYPE, mode=0o755), entry("./src/main.py", b"print(1)\n"),
               entry("./.paas/build-env.sh", SCRIPT, mode=0o755), entry("./.paas/image-env.sh", b"echo image\n"),
               entry("./run.sh", b"exec python src/main.py\n", mode=0o700))
    info = archive_inspect(path, filename="package.tar.gz")
    assert info.format == "tar.gz" and info.root == "" and info.filename == "package.tar.gz"
    assert info.paas_scripts == {".paas/build-env.sh": SCRIPT, ".paas/image-env.sh": b"echo image\n"}
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.archive_size == path.stat().st_size
    assert info.total_size == 9 + len(SCRIPT) + 11 + 24
    assert [(m.name, m.type, m.mode) for m in info.members] == [
        ("src/main.py", "file", 0o644), (".paas/build-env.sh", "file", 0o755),
        (".paas/image-env.sh", "file", 0o644), ("run.sh", "file", 0o755)]


def test_it_finds_paas_scripts_under_a_single_top_level_folder(tmp_path):
    path = tgz(tmp_path, entry("app-1.0/", kind=tarfile.DIRTYPE), entry("app-1.0/.paas/build-env.sh", SCRIPT),
               entry("app-1.0/setup.py", b""))
    info = archive_inspect(path, filename="app-1.0.tgz")
    assert info.root == "app-1.0/" and info.paas_scripts == {".paas/build-env.sh": SCRIPT}
    zipped = zip_file(tmp_path, ("app-1.0/.paas/image-env.sh", b"echo hi\n"), ("app-1.0/README", b"x"))
    info = archive_inspect(zipped, filename="app.zip")
    assert info.format == "zip" and info.root == "app-1.0/" and info.paas_scripts == {".paas/image-env.sh": b"echo hi\n"}


def test_it_looks_for_paas_scripts_only_at_the_project_root(tmp_path):
    two_folders = tgz(tmp_path, entry("app/.paas/build-env.sh", SCRIPT), entry("docs/index.md", b"#"))
    info = archive_inspect(two_folders, filename="x.tgz")
    assert info.root == "" and info.paas_scripts == {}
    only_paas = tgz(tmp_path, entry(".paas/build-env.sh", SCRIPT), name="paas-only.tgz")
    assert archive_inspect(only_paas, filename="x.tgz").paas_scripts == {".paas/build-env.sh": SCRIPT}


def test_it_reads_a_plain_tar_and_a_file_object(tmp_path):
    raw = tar_bytes(entry("a.txt", b"hello"))
    path = write(tmp_path / "plain.tar", raw, gz=False)
    assert archive_inspect(path, filename="plain.tar").format == "tar"
    stream = io.BytesIO(raw)
    stream.read()  # a file object is read from its start whatever its position
    assert [m.name for m in archive_inspect(stream, filename="plain.tar").members] == ["a.txt"]


def test_it_strips_setuid_and_setgid_bits_and_says_so(tmp_path):
    path = tgz(tmp_path, entry("bin/tool", b"\x7fELF", mode=0o4755), entry("shared", kind=tarfile.DIRTYPE, mode=0o2775))
    info = archive_inspect(path, filename="x.tgz")
    assert [m.mode for m in info.members] == [0o755, 0o755]
    assert info.notes == ("setuid/setgid bits were removed from 2 member(s)",)
    repacked = tarfile.open(fileobj=io.BytesIO(archive_extract_to_tar(path, filename="x.tgz")))
    assert {m.name: m.mode for m in repacked} == {"artifact": 0o755, "artifact/bin": 0o755, "artifact/bin/tool": 0o755, "artifact/shared": 0o755}


# --- formats, sizes and bombs ---

def test_it_refuses_what_is_not_a_tar_gz_tar_or_zip(tmp_path):
    refused(write(tmp_path / "notes.txt", b"just text" * 100, gz=False), NOT_AN_ARCHIVE)
    refused(write(tmp_path / "x.tar.bz2", b"BZh91AY&SY" + b"\0" * 600, gz=False), NOT_AN_ARCHIVE)
    refused(write(tmp_path / "binary.gz", b"\x01\x02" * 600), NOT_AN_ARCHIVE)  # a gzip, but not of a tar


def test_it_refuses_an_empty_archive(tmp_path):
    refused(write(tmp_path / "empty.tar", tar_bytes(), gz=False), "the archive is empty")
    refused(zip_file(tmp_path), "the archive is empty")


def test_it_refuses_too_many_members(tmp_path):
    many = [entry(f"f{i}", b"x") for i in range(5)]
    refused(tgz(tmp_path, *many), "more than 4 members", max_members=4)
    refused(zip_file(tmp_path, *[(f"f{i}", b"x") for i in range(5)]), "more than 4 members", max_members=4)


def test_it_refuses_a_member_or_a_total_too_large(tmp_path):
    path = tgz(tmp_path, entry("a", b"x" * 600), entry("b", b"y" * 600))
    refused(path, "'a' is 600 bytes; the limit for one file is 500 bytes", max_member_size=500)
    refused(path, "unpacks to more than 1 KiB", max_total_size=1024)
    refused(zip_file(tmp_path, ("a", b"x" * 600)), "'a' is 600 bytes", max_member_size=500)
    refused(path, "the archive is .* bytes; the limit is 100 bytes", max_archive_size=100)


def test_it_refuses_a_zip_bomb(tmp_path):
    zeros = b"\0" * (50 * MiB)
    bomb = zip_file(tmp_path, ("zeros.bin", zeros))
    assert bomb.stat().st_size < MiB
    refused(bomb, r"'zeros.bin' compresses more than 100:1, which looks like a zip bomb")
    refused(tgz(tmp_path, entry("zeros.bin", zeros)), r"the archive compresses more than 100:1")
    # Small members compress as well as they like: the ratio counts only past a few MiB.
    assert archive_inspect(zip_file(tmp_path, ("zeros.bin", b"\0" * MiB), name="ok.zip"), filename="ok.zip")


def test_it_refuses_a_zip_bomb_whose_header_understates_the_ratio(tmp_path):
    raw = bytearray(zip_file(tmp_path, ("zeros.bin", b"\0" * (50 * MiB))).read_bytes())
    directory = raw.index(b"PK\x01\x02")
    raw[directory + 20:directory + 24] = (50 * MiB).to_bytes(4, "little")  # claims to be stored, 1:1
    refused(write(tmp_path / "liar.zip", bytes(raw), gz=False), "the archive compresses more than 100:1")


def test_it_refuses_nesting_deeper_than_the_limit(tmp_path):
    refused(tgz(tmp_path, entry("/".join(["d"] * 33) + "/f", b"")), "nested more than 32 folders deep")
    assert archive_inspect(tgz(tmp_path, entry("/".join(["d"] * 31) + "/f", b""), name="ok.tgz"), filename="ok.tgz")


# --- names ---

def test_it_refuses_absolute_paths(tmp_path):
    refused(tgz(tmp_path, entry("/etc/cron.d/evil", b"x")), "'/etc/cron.d/evil' is an absolute path")
    refused(zip_file(tmp_path, ("/etc/passwd", b"x")), "is an absolute path")


def test_it_refuses_path_traversal(tmp_path):
    refused(tgz(tmp_path, entry("app/../../etc/passwd", b"x")), r"climbs out of the archive \(path traversal")
    refused(zip_file(tmp_path, ("..\\..\\evil.sh", b"x")), "path traversal")  # backslashes read as separators


def test_it_refuses_names_with_control_characters_or_nul(tmp_path):
    refused(tgz(tmp_path, entry("bad\x1bname", b"x")), "contains a NUL or control character")
    raw = zip_file(tmp_path, ("aXb.txt", b"x")).read_bytes().replace(b"aXb.txt", b"a\0b.txt")
    refused(write(tmp_path / "nul.zip", raw, gz=False), "contains a NUL or control character")
    refused(tgz(tmp_path, entry("caf\udce9", b"x"), fmt=tarfile.GNU_FORMAT, name="latin1.tgz"), "is not valid UTF-8")


def test_it_refuses_a_name_that_appears_twice_or_replaces_another_type(tmp_path):
    refused(tgz(tmp_path, entry("a", b"1"), entry("a", b"2")), "'a' appears twice in the archive$")
    refused(tgz(tmp_path, entry("a", b"1"), entry("a", kind=tarfile.DIRTYPE)), r"appears twice .*as a file and as a folder")
    refused(tgz(tmp_path, entry("a", b"1"), entry("a/b", b"2")), "'a/b' is inside 'a', which is a file")
    refused(tgz(tmp_path, entry("a/b", b"2"), entry("a", kind=tarfile.SYMTYPE, link="b")), "is a symlink but other members are inside it")
    folder_twice = tgz(tmp_path, entry("a", kind=tarfile.DIRTYPE), entry("a/", kind=tarfile.DIRTYPE), entry("a/b", b""), name="ok.tgz")
    assert [m.name for m in archive_inspect(folder_twice, filename="ok.tgz").members] == ["a", "a/b"]


# --- links and special files ---

def test_it_keeps_a_symlink_that_stays_inside(tmp_path):
    path = tgz(tmp_path, entry("lib/v1/mod.py", b"x"), entry("lib/current", kind=tarfile.SYMTYPE, link="v1"),
               entry("bin/mod", kind=tarfile.SYMTYPE, link="../lib/current/mod.py"))
    links = {m.name: m.target for m in archive_inspect(path, filename="x.tgz").members if m.type == "symlink"}
    assert links == {"lib/current": "v1", "bin/mod": "../lib/current/mod.py"}
    zipped = zip_file(tmp_path, ("lib/mod.py", b"x"), ("mod", b"lib/mod.py", stat.S_IFLNK | 0o777))
    assert [m.type for m in archive_inspect(zipped, filename="x.zip").members] == ["file", "symlink"]


def test_it_refuses_a_symlink_pointing_outside(tmp_path):
    refused(tgz(tmp_path, entry("app/conf", kind=tarfile.SYMTYPE, link="../../etc/shadow")),
            r"symlink 'app/conf' points outside the archive \('../../etc/shadow'\)")
    refused(tgz(tmp_path, entry("passwd", kind=tarfile.SYMTYPE, link="/etc/passwd")), "points outside the archive")
    refused(zip_file(tmp_path, ("up", b"../..", stat.S_IFLNK | 0o777)), "points outside the archive")
    # Each link alone looks harmless; followed through the first, the second climbs out.
    refused(tgz(tmp_path, entry("d/l1", kind=tarfile.SYMTYPE, link=".."), entry("d/l2", kind=tarfile.SYMTYPE, link="l1/..")),
            "symlink 'd/l2' points outside the archive")
    refused(tgz(tmp_path, entry("a", kind=tarfile.SYMTYPE, link="b"), entry("b", kind=tarfile.SYMTYPE, link="a")),
            "leads through more than 40 symlinks")


def test_it_refuses_a_member_below_a_symlink(tmp_path):
    path = tgz(tmp_path, entry("data", kind=tarfile.SYMTYPE, link="real"), entry("real/", kind=tarfile.DIRTYPE),
               entry("data/file", b"written through the link"))
    refused(path, "'data/file' is inside 'data', which is a symlink")


def test_it_keeps_a_hard_link_to_an_earlier_file_and_refuses_others(tmp_path):
    path = tgz(tmp_path, entry("a/lib.so", b"ELF"), entry("b/lib.so", kind=tarfile.LNKTYPE, link="./a/lib.so"))
    info = archive_inspect(path, filename="x.tgz")
    assert info.members[1].type == "hardlink" and info.members[1].target == "a/lib.so" and info.total_size == 3
    refused(tgz(tmp_path, entry("x", kind=tarfile.LNKTYPE, link="../../etc/shadow")), "hard link 'x' points outside the archive")
    refused(tgz(tmp_path, entry("x", kind=tarfile.LNKTYPE, link="/etc/shadow")), "hard link 'x' points outside the archive")
    refused(tgz(tmp_path, entry("x", kind=tarfile.LNKTYPE, link="later"), entry("later", b"1")),
            "hard link 'x' must point to a file earlier in the archive")


def test_it_refuses_device_files_fifos_and_sockets(tmp_path):
    refused(tgz(tmp_path, entry("dev/sda", kind=tarfile.BLKTYPE)), "'dev/sda' is a device file")
    refused(tgz(tmp_path, entry("dev/null", kind=tarfile.CHRTYPE)), "is a device file")
    refused(tgz(tmp_path, entry("pipe", kind=tarfile.FIFOTYPE)), "'pipe' is a FIFO")
    refused(zip_file(tmp_path, ("sock", b"", stat.S_IFSOCK | 0o755)), "'sock' is a socket")


# --- headers that lie ---

def test_it_refuses_a_tar_whose_header_lies_about_a_size(tmp_path):
    raw = tar_bytes(entry("a.bin", bytes(range(256)) * 8), entry("b.txt", b"after"))
    # Claims more than the limit: refused before a byte of data is read.
    refused(write(tmp_path / "huge.tgz", tar_header_patch(raw, 0, 300 * MiB)), "'a.bin' is 314,572,800 bytes")
    # Claims more than the data holds.
    single = tar_bytes(entry("a.bin", b"x" * 100))
    refused(write(tmp_path / "short.tgz", tar_header_patch(single, 0, 2 * MiB)), "damaged|the data ends")
    # Claims less: the next "header" is file data, which tarfile would take as the end of the archive.
    refused(write(tmp_path / "less.tgz", tar_header_patch(raw, 0, 10)), "the archive is damaged")
    # Claims less, and the data it hides starts with zeros, which look like the end of the archive.
    zeros = tar_bytes(entry("a.bin", b"\0" * 2048), entry("b.txt", b"after"))
    refused(write(tmp_path / "zeros.tgz", tar_header_patch(zeros, 0, 10)), "data follows the end of the tar")


def test_it_refuses_an_oversized_extended_header(tmp_path):
    path = tgz(tmp_path, entry("a" * 70_000, b"x"), fmt=tarfile.PAX_FORMAT)
    refused(path, "extended header larger than 64 KiB")


def test_it_refuses_a_zip_whose_declared_sizes_differ_from_its_data(tmp_path):
    original = zip_file(tmp_path, ("a.txt", b"0123456789" * 100)).read_bytes()
    directory = original.index(b"PK\x01\x02")
    smaller = bytearray(original)
    smaller[directory + 24:directory + 28] = (10).to_bytes(4, "little")
    refused(write(tmp_path / "smaller.zip", bytes(smaller), gz=False), "damaged: Bad CRC-32")
    larger = bytearray(original)
    larger[directory + 24:directory + 28] = (5000).to_bytes(4, "little")
    refused(write(tmp_path / "larger.zip", bytes(larger), gz=False), "the header says 5,000 bytes but the data ends after 1,000")


def test_it_refuses_encrypted_and_non_deflate_zip_members(tmp_path):
    raw = bytearray(zip_file(tmp_path, ("secret.txt", b"x")).read_bytes())
    directory = raw.index(b"PK\x01\x02")
    raw[directory + 8] |= 0x1
    refused(write(tmp_path / "encrypted.zip", bytes(raw), gz=False), "'secret.txt' is encrypted")
    refused(zip_file(tmp_path, ("a.txt", b"x"), method=zipfile.ZIP_BZIP2, name="bz.zip"), "compression method other than deflate")


# --- .paas scripts ---

def test_it_refuses_paas_scripts_that_are_not_small_regular_files(tmp_path):
    refused(tgz(tmp_path, entry("other.sh", SCRIPT), entry(".paas/build-env.sh", kind=tarfile.SYMTYPE, link="../other.sh")),
            ".paas/build-env.sh must be a regular file, not a symlink")
    refused(tgz(tmp_path, entry("elsewhere/build-env.sh", SCRIPT), entry(".paas", kind=tarfile.SYMTYPE, link="elsewhere")),
            ".paas must be a folder")
    refused(tgz(tmp_path, entry("app/.paas/image-env.sh", b"#" * 70_000)), "app/.paas/image-env.sh is larger than 64 KiB")


# --- the re-pack ---

def test_it_repacks_deterministically_with_fixed_owner_time_and_masked_modes(tmp_path):
    def package(name, mtime, uid, private_mode):
        return tgz(tmp_path, entry("app/", kind=tarfile.DIRTYPE, mode=0o700, mtime=mtime, uid=uid),
                   entry("app/run", b"#!/bin/sh\n", mode=0o6711, mtime=mtime, uid=uid),
                   entry("app/data.txt", b"data", mode=private_mode, mtime=mtime, uid=uid),
                   entry("app/latest", kind=tarfile.SYMTYPE, link="data.txt", mtime=mtime, uid=uid), name=name)

    first = archive_extract_to_tar(package("one.tgz", 1_600_000_000, 1000, 0o600), filename="one.tgz")
    again = archive_extract_to_tar(tmp_path / "one.tgz", filename="one.tgz")
    other = archive_extract_to_tar(package("two.tgz", 1_700_000_000, 501, 0o664), filename="two.tgz")
    assert first == again == other
    members = tarfile.open(fileobj=io.BytesIO(first)).getmembers()
    assert [(m.name, m.type, m.mode, m.linkname) for m in members] == [
        ("artifact", tarfile.DIRTYPE, 0o755, ""), ("artifact/app", tarfile.DIRTYPE, 0o755, ""),
        ("artifact/app/run", tarfile.REGTYPE, 0o755, ""), ("artifact/app/data.txt", tarfile.REGTYPE, 0o644, ""),
        ("artifact/app/latest", tarfile.SYMTYPE, 0o755, "data.txt")]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(FIXED_MTIME, 0, 0, "root", "root")}


def test_it_repacks_exactly_the_checked_bytes_with_parent_folders_and_hard_links(tmp_path):
    path = zip_file(tmp_path, ("src/pkg/mod.py", b"print('hi')\n"), (".paas/build-env.sh", SCRIPT))
    repacked = tarfile.open(fileobj=io.BytesIO(archive_extract_to_tar(path, filename="x.zip", prefix="")))
    assert repacked.getnames() == ["src", "src/pkg", "src/pkg/mod.py", ".paas", ".paas/build-env.sh"]
    assert repacked.extractfile(".paas/build-env.sh").read() == SCRIPT
    linked = tgz(tmp_path, entry("a", b"same"), entry("b", kind=tarfile.LNKTYPE, link="a"), name="linked.tgz")
    member = tarfile.open(fileobj=io.BytesIO(archive_extract_to_tar(linked, filename="l.tgz"))).getmember("artifact/b")
    assert member.islnk() and member.linkname == "artifact/a"


def test_it_writes_into_an_open_build_context_or_a_file(tmp_path):
    path = tgz(tmp_path, entry("app.py", b"print(1)\n"))
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        assert archive_extract_to_tar(path, filename="x.tgz", out=tar) is tar
        dockerfile = b"FROM scratch\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    assert tarfile.open(fileobj=io.BytesIO(context.getvalue())).getnames() == ["artifact", "artifact/app.py", "Dockerfile"]
    with open(tmp_path / "out.tar", "wb") as out:
        assert archive_extract_to_tar(path, filename="x.tgz", out=out) is out
    assert (tmp_path / "out.tar").read_bytes() == archive_extract_to_tar(path, filename="x.tgz")


def test_it_refuses_to_repack_a_hostile_or_changed_package(tmp_path):
    with pytest.raises(ArchiveError, match="points outside the archive"):
        archive_extract_to_tar(tgz(tmp_path, entry("x", kind=tarfile.SYMTYPE, link="../x")), filename="x.tgz")
    path = tgz(tmp_path, entry("a", b"1"), name="ok.tgz")
    with pytest.raises(ArchiveError, match="changed since it was checked"):
        archive_extract_to_tar(path, filename="ok.tgz", expected_sha256="0" * 64)
    sha = archive_inspect(path, filename="ok.tgz").sha256
    assert archive_extract_to_tar(path, filename="ok.tgz", expected_sha256=sha)
