"""Special files read from layer tars: setuid/setgid bits, file capabilities (PAX xattr records as
Docker writes them) and world-writable entries under system paths, with overlay semantics."""
import io
import json
import struct
import tarfile

import pytest

from compliance.sbom.facts import MAX_SPECIAL_FILES, facts_from_layers
from compliance.sbom.layers import scan_layers
from compliance.sbom.models import ImageFacts, SpecialFile
from compliance.sbom.special import capabilities_text, is_system_path, special_entry

# The value `setcap cap_net_admin,cap_net_raw+ep` leaves (VFS_CAP_REVISION_2, effective), as Docker
# 20.10 wrote it into a real layer tar (`docker commit`, then `docker save`).
NET_ADMIN_RAW_EP = b"\x01\x00\x00\x02\x00\x30\x00\x00" + b"\x00" * 12


def entry(name, *, mode=0o644, kind="file", uid=0, gid=0, xattr=None, link=""):
    return name, mode, kind, uid, gid, xattr, link


def layer(*entries, go_style_mode=True):
    """A layer tar whose entries carry modes, owners and xattrs. Go's tar writer (Docker's) keeps
    the file type bits in the mode field: `go_style_mode` does the same."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, mode, kind, uid, gid, xattr, link in entries:
            info = tarfile.TarInfo(name)
            info.uid, info.gid = uid, gid
            type_bits = {"file": 0o100000, "dir": 0o040000, "hard": 0o100000, "sym": 0o120000, "fifo": 0o010000}[kind]
            info.mode = mode | (type_bits if go_style_mode else 0)
            info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "hard": tarfile.LNKTYPE,
                         "sym": tarfile.SYMTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            info.linkname = link
            if xattr is not None:
                info.pax_headers = {"SCHILY.xattr.security.capability": xattr.decode("utf-8", "surrogateescape")}
            data = b"\x7fELF" if kind == "file" else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def special(*layers):
    return scan_layers(list(layers), lambda path: False, mark=special_entry).marks


def test_it_decodes_file_capabilities_as_getcap_spells_them():
    assert capabilities_text(NET_ADMIN_RAW_EP) == "cap_net_admin,cap_net_raw=ep"
    # revision 3 (namespaced, with a root uid), a capability above 31, permitted without effective
    v3 = struct.pack("<IIIIII", 0x03000000, 1 << 10, 0, 1 << (39 - 32), 0, 0)
    assert capabilities_text(v3) == "cap_net_bind_service,cap_bpf=p"
    v1_inheritable = struct.pack("<III", 0x01000001, 0, 1 << 21)
    assert capabilities_text(v1_inheritable) == "cap_sys_admin=i"
    assert capabilities_text(struct.pack("<IIIII", 0x02000000, 0, 0, 0, 0)) == "empty security.capability"


@pytest.mark.parametrize("raw", [b"", b"\x01\x00", b"\x00\x00\x00\x09" + b"\x00" * 16, NET_ADMIN_RAW_EP[:12]])
def test_it_reports_an_unreadable_capability_value_rather_than_nothing(raw):
    assert capabilities_text(raw).startswith("unreadable security.capability")


def test_it_reads_setuid_setgid_capabilities_and_world_writable_system_entries_from_a_layer():
    marks = special(layer(
        entry("bin/", mode=0o755, kind="dir"),
        entry("bin/busybox", mode=0o4755),
        entry("usr/bin/wall", mode=0o2755, gid=5),
        entry("usr/bin/ping", mode=0o755, xattr=NET_ADMIN_RAW_EP),
        entry("usr/lib/", mode=0o777, kind="dir"),
        entry("etc/profile.d/evil.sh", mode=0o666),
        entry("usr/local/bin/", mode=0o1777, kind="dir"),
        entry("tmp/", mode=0o1777, kind="dir"),
        entry("app/data", mode=0o666),
        entry("usr/bin/sh", mode=0o777, kind="sym", link="busybox"),
        entry("usr/bin/plain", mode=0o755),
    ))
    assert set(marks) == {"bin/busybox", "usr/bin/wall", "usr/bin/ping", "usr/lib", "etc/profile.d/evil.sh",
                          "usr/local/bin"}, "data areas, symlinks and plain files are not special"
    assert marks["bin/busybox"] == SpecialFile(path="bin/busybox", layer_index=0, type="file", mode=0o4755)
    assert marks["bin/busybox"].setuid and not marks["bin/busybox"].setgid
    assert marks["usr/bin/wall"].setgid and marks["usr/bin/wall"].gid == 5
    assert marks["usr/bin/ping"].capabilities == "cap_net_admin,cap_net_raw=ep"
    assert marks["usr/lib"].type == "dir" and marks["usr/lib"].world_writable and marks["usr/lib"].mode == 0o777
    assert marks["usr/local/bin"].mode == 0o1777, "a sticky directory under a system path still counts"


def test_it_reads_modes_written_without_the_type_bits_too():
    marks = special(layer(entry("bin/su", mode=0o4755), go_style_mode=False))
    assert marks["bin/su"].mode == 0o4755


def test_a_setgid_directory_is_not_a_setgid_file():
    marks = special(layer(entry("var/mail/", mode=0o2775, kind="dir"), entry("usr/share/x/", mode=0o2755, kind="dir")))
    assert marks == {}


def test_a_hard_link_carries_its_own_mode_and_xattrs():
    marks = special(layer(entry("bin/busybox", mode=0o4755), entry("bin/su", mode=0o4755, kind="hard", link="bin/busybox")))
    assert marks["bin/su"].type == "hardlink" and marks["bin/su"].setuid


def test_a_later_layer_that_clears_the_bit_deletes_or_replaces_the_entry_wins():
    base = layer(entry("bin/su", mode=0o4755), entry("bin/mount", mode=0o4755), entry("usr/lib/", mode=0o777, kind="dir"),
                 entry("etc/x/", mode=0o777, kind="dir"), entry("etc/x/y", mode=0o4755))
    above = layer(entry("bin/su", mode=0o755), entry("bin/.wh.mount", mode=0o644),
                  entry("usr/lib/", mode=0o755, kind="dir"), entry("etc/.wh.x", mode=0o644))
    assert special(base, above) == {}


def test_an_opaque_directory_hides_lower_special_files_but_not_its_own():
    lower = layer(entry("opt/tool/", mode=0o755, kind="dir"), entry("opt/tool/old", mode=0o4755))
    upper = layer(entry("opt/tool/.wh..wh..opq"), entry("opt/tool/new", mode=0o4755))
    assert {path: f.layer_index for path, f in special(lower, upper).items()} == {"opt/tool/new": 1}


def test_a_chmod_above_the_base_is_the_upper_layer_s_entry():
    marks = special(layer(entry("bin/busybox", mode=0o755)), layer(entry("bin/", mode=0o755, kind="dir"),
                                                                   entry("bin/busybox", mode=0o4755)))
    assert marks["bin/busybox"].layer_index == 1


@pytest.mark.parametrize("path, system", [("usr", True), ("usr/local/bin/x", True), ("etc/passwd", True),
                                          ("lib64/ld.so", True), ("root/.profile", True), ("usrx/y", False),
                                          ("tmp/x", False), ("var/lib/x", False), ("opt/app", False), ("app", False)])
def test_system_paths_are_the_programs_libraries_configuration_and_root_s_home(path, system):
    assert is_system_path(path) is system


def config_for(layers):
    return {"config": {"User": "10001:10001"}, "rootfs": {"diff_ids": []},
            "history": [{"created_by": f"step {i}"} for i in range(len(layers))]}


def test_facts_from_layers_keep_special_files_in_json_and_load_them_back():
    layers = [layer(entry("bin/su", mode=0o4755)), layer(entry("usr/bin/ping", mode=0o755, xattr=NET_ADMIN_RAW_EP))]
    facts = facts_from_layers(repository="r", digest="sha256:d", layer_digests=["sha256:a", "sha256:b"],
                              config=config_for(layers), layers=layers)
    assert [(f.path, f.layer_index, f.mode, f.capabilities) for f in facts.privileges.special_files] == [
        ("bin/su", 0, 0o4755, ""), ("usr/bin/ping", 1, 0o755, "cap_net_admin,cap_net_raw=ep")]
    assert ImageFacts.from_dict(json.loads(json.dumps(facts.to_dict()))) == facts


def test_past_the_limit_it_keeps_the_highest_layers_and_says_it_cut():
    base = layer(*[entry(f"usr/bin/base{i}", mode=0o4755) for i in range(MAX_SPECIAL_FILES)])
    above = layer(entry("usr/bin/added", mode=0o4755))
    facts = facts_from_layers(repository="r", digest="sha256:d", layer_digests=["sha256:a", "sha256:b"],
                              config=config_for([base, above]), layers=[base, above])
    kept = facts.privileges.special_files
    assert facts.privileges.special_files_truncated and len(kept) == MAX_SPECIAL_FILES
    assert ("usr/bin/added", 1) in [(f.path, f.layer_index) for f in kept], "the layer above the base is never cut"
