"""merge_layers: overlay semantics over tar streams built in memory."""
import io

import pytest

from compliance.sbom.layers import LayerError, merge_layers, normalize_path
from tests.compliance.sbom.sbom_tars import layer_tar


def layer(*entries, compress=False):
    """A layer stream from (name, payload) pairs (see tests/compliance/sbom/sbom_tars.py)."""
    return io.BytesIO(layer_tar(*entries, compress=compress))


def everything(path):
    return True


def contents(merged):
    return {path: f.data for path, f in merged.items()}


def test_it_merges_layers_and_records_the_last_writer():
    merged = merge_layers([
        layer(("etc/a", b"a0"), ("etc/b", b"b0")),
        layer(("etc/b", b"b1")),
        layer(("etc/c", b"c2")),
    ], everything)
    assert contents(merged) == {"etc/a": b"a0", "etc/b": b"b1", "etc/c": b"c2"}
    assert {p: f.layer_index for p, f in merged.items()} == {"etc/a": 0, "etc/b": 1, "etc/c": 2}


def test_it_treats_dot_slash_and_plain_names_as_one_path():
    merged = merge_layers([
        layer(("./", None), ("./etc/", None), ("./etc/passwd", b"old")),
        layer(("etc/passwd", b"new"), ("/etc/group", b"g")),
    ], everything)
    assert contents(merged) == {"etc/passwd": b"new", "etc/group": b"g"}


def test_it_deletes_a_file_with_a_whiteout():
    merged = merge_layers([
        layer(("./etc/a", b"a"), ("./etc/b", b"b")),
        layer(("./etc/.wh.a", b"")),
    ], everything)
    assert contents(merged) == {"etc/b": b"b"}


def test_it_deletes_a_whole_directory_with_a_whiteout():
    merged = merge_layers([
        layer(("var/lib/dpkg/status.d/", None), ("var/lib/dpkg/status.d/libc6", b"x"),
              ("var/lib/dpkg/status.d/deep/z", b"z"), ("var/lib/dpkg/status.d-other", b"kept")),
        layer(("var/lib/dpkg/.wh.status.d", b"")),
    ], everything)
    assert contents(merged) == {"var/lib/dpkg/status.d-other": b"kept"}


def test_it_hides_lower_layers_under_an_opaque_directory_but_not_its_own_layer():
    merged = merge_layers([
        layer(("etc/app/old.conf", b"old"), ("etc/app/both.conf", b"lower"), ("etc/other", b"o")),
        # The marker comes after one new file and before another: both must stay.
        layer(("etc/app/new1.conf", b"n1"), ("etc/app/.wh..wh..opq", b""),
              ("etc/app/both.conf", b"upper"), ("etc/app/new2.conf", b"n2")),
    ], everything)
    assert contents(merged) == {"etc/app/new1.conf": b"n1", "etc/app/both.conf": b"upper",
                                "etc/app/new2.conf": b"n2", "etc/other": b"o"}


def test_it_keeps_a_file_re_added_above_a_whiteout():
    merged = merge_layers([
        layer(("etc/passwd", b"v0")),
        layer(("etc/.wh.passwd", b"")),
        layer(("etc/passwd", b"v2")),
    ], everything)
    assert contents(merged) == {"etc/passwd": b"v2"}
    assert merged["etc/passwd"].layer_index == 2


def test_it_does_not_let_a_whiteout_hide_a_file_of_its_own_layer():
    merged = merge_layers([layer(("etc/x", b"0")), layer(("etc/x", b"1"), ("etc/.wh.x", b""))], everything)
    assert contents(merged) == {"etc/x": b"1"}


def test_it_reads_gzip_and_plain_layers_alike():
    merged = merge_layers([
        layer(("a", b"gz"), compress=True),
        layer(("b", b"plain")),
        layer(("c", b"gz again"), compress=True),
    ], everything)
    assert contents(merged) == {"a": b"gz", "b": b"plain", "c": b"gz again"}


def test_it_keeps_only_wanted_regular_files():
    merged = merge_layers([
        layer(("etc/", None), ("etc/passwd", b"p"), ("etc/shadow", b"s"), ("etc/link", ("sym", "passwd"))),
    ], lambda path: path in {"etc/passwd", "etc/", "etc"})
    assert contents(merged) == {"etc/passwd": b"p"}


def test_it_skips_files_above_the_size_cap_and_they_still_hide_lower_copies():
    merged = merge_layers([
        layer(("small", b"ok"), ("big", b"tiny at first")),
        layer(("big", b"x" * 101), ("edge", b"y" * 100)),
    ], everything, max_file_size=100)
    assert contents(merged) == {"small": b"ok", "edge": b"y" * 100}


def test_it_has_a_16_mib_default_cap():
    big = b"\0" * (16 * 1024 * 1024 + 1)
    assert merge_layers([layer(("big", big), compress=True)], everything) == {}


def test_it_resolves_a_relative_symlink_to_a_wanted_file():
    merged = merge_layers([
        layer(("usr/lib/os-release", b"ID=debian\n")),
        layer(("etc/os-release", ("sym", "../usr/lib/os-release"))),
    ], everything)
    assert merged["etc/os-release"].data == b"ID=debian\n"
    assert merged["etc/os-release"].layer_index == 0


def test_it_resolves_an_absolute_symlink_and_drops_one_whose_target_was_not_kept():
    merged = merge_layers([
        layer(("usr/lib/os-release", b"ID=x"), ("etc/os-release", ("sym", "/usr/lib/os-release")),
              ("etc/passwd", ("sym", "/nowhere")), ("loop", ("sym", "loop"))),
    ], everything)
    assert contents(merged) == {"usr/lib/os-release": b"ID=x", "etc/os-release": b"ID=x"}


def test_it_replaces_a_lower_symlink_with_a_file_and_a_file_with_a_symlink():
    merged = merge_layers([
        layer(("target", b"t"), ("a", ("sym", "target")), ("b", b"file")),
        layer(("a", b"now a file"), ("b", ("sym", "target"))),
    ], everything)
    assert contents(merged) == {"target": b"t", "a": b"now a file", "b": b"t"}


def test_it_resolves_a_hard_link_to_an_earlier_file_of_the_same_layer():
    merged = merge_layers([layer(("./usr/bin/a", b"A"), ("./usr/bin/b", ("hard", "./usr/bin/a")))], everything)
    assert contents(merged) == {"usr/bin/a": b"A", "usr/bin/b": b"A"}


def test_it_replaces_a_lower_directory_by_a_file():
    merged = merge_layers([layer(("etc/conf.d/x", b"x")), layer(("etc/conf.d", b"now a file"))], everything)
    assert contents(merged) == {"etc/conf.d": b"now a file"}


def test_it_accepts_an_empty_blob_as_an_empty_layer():
    assert contents(merge_layers([io.BytesIO(b""), layer(("a", b"1"))], everything)) == {"a": b"1"}


def test_it_reports_which_layer_is_not_a_tar():
    with pytest.raises(LayerError, match="layer 1 is not a readable tar"):
        merge_layers([layer(("a", b"1")), io.BytesIO(b"this is not a tar" * 100)], everything)


@pytest.mark.parametrize("name, expected", [
    ("./etc/x", "etc/x"), ("/etc/x", "etc/x"), ("etc//x/", "etc/x"), ("./", ""), ("a/../b", "b"), ("../../b", "b"),
])
def test_it_normalises_paths(name, expected):
    assert normalize_path(name) == expected
