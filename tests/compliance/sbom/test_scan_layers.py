"""scan_layers: per-layer history of a few files, the file index, and the visitor."""
import time

from compliance.sbom.layers import scan_layers
from tests.compliance.sbom.sbom_tars import layer


def nothing(path):
    return False


def is_db(path):
    return path == "db"


def history_of(scan, path):
    return [(copy.layer_index, copy.data) for copy in scan.history.get(path, [])]


class Recorder:
    """A visitor that keeps what it saw, reading only files whose name says "read"."""

    def __init__(self):
        self.seen = []

    def wants(self, layer_index, path, size):
        return "read" in path

    def visit(self, layer_index, path, size, data):
        self.seen.append((layer_index, path, size, data.read()))


def test_it_keeps_every_copy_of_a_history_file_oldest_first():
    scan = scan_layers([layer(("db", b"v0")), layer(("other", b"x")), layer(("db", b"v2"))], is_db, history=is_db)
    assert history_of(scan, "db") == [(0, b"v0"), (2, b"v2")]
    assert scan.files["db"].data == b"v2"


def test_it_restarts_the_history_after_a_whiteout_and_forgets_a_deleted_file():
    scan = scan_layers([layer(("db", b"v0")), layer((".wh.db", b"")), layer(("db", b"v2"))], is_db, history=is_db)
    assert history_of(scan, "db") == [(2, b"v2")]
    scan = scan_layers([layer(("db", b"v0")), layer((".wh.db", b""))], is_db, history=is_db)
    assert scan.history == {} and scan.files == {}


def test_it_restarts_the_history_when_an_opaque_directory_or_a_symlink_replaces_the_file():
    paths = {"var/db"}.__contains__
    scan = scan_layers([layer(("var/db", b"v0")), layer(("var/.wh..wh..opq", b""), ("var/db", b"v1"))],
                       paths, history=paths)
    assert history_of(scan, "var/db") == [(1, b"v1")]
    scan = scan_layers([layer(("var/db", b"v0")), layer(("var/db", ("sym", "elsewhere"))), layer(("var/db", b"v2"))],
                       paths, history=paths)
    assert history_of(scan, "var/db") == [(2, b"v2")]


def test_it_keeps_the_last_copy_when_a_layer_repeats_a_name():
    scan = scan_layers([layer(("db", b"first"), ("db", b"second"))], is_db, history=is_db)
    assert history_of(scan, "db") == [(0, b"second")]


def test_it_indexes_every_regular_file_of_the_top_with_the_layer_that_added_it():
    scan = scan_layers([
        layer(("etc/", None), ("etc/a", b"a"), ("etc/b", b"b"), ("usr/lib/x/y", b"y"), ("link", ("sym", "etc/a"))),
        layer(("etc/b", b"b1"), ("etc/.wh.a", b""), ("hard", ("hard", "etc/b"))),
        layer(("usr/lib/.wh.x", b""), ("new", b"n")),
    ], nothing, index=True)
    assert scan.index == {"etc/b": 1, "hard": 1, "new": 2}
    assert scan.files == {}  # the index keeps paths and layers, never contents


def test_it_drops_from_the_index_what_an_opaque_directory_or_a_file_over_a_directory_hides():
    scan = scan_layers([
        layer(("a/x", b""), ("a/sub/y", b""), ("b/z", b""), ("bz", b"")),
        layer(("a/.wh..wh..opq", b""), ("a/new", b""), ("b", b"b is a file now")),
    ], nothing, index=True)
    assert scan.index == {"a/new": 1, "b": 1, "bz": 0}


def test_it_shows_the_visitor_every_layer_including_deleted_and_overwritten_files():
    recorder = Recorder()
    scan = scan_layers([
        layer(("read/secret", b"s0"), ("read/kept", b"k"), ("skip/me", b"x")),
        layer(("read/.wh.secret", b""), ("read/kept", b"k1"), ("read/link", ("hard", "read/kept"))),
    ], nothing, visitor=recorder, index=True)
    assert recorder.seen == [(0, "read/secret", 2, b"s0"), (0, "read/kept", 1, b"k"), (1, "read/kept", 2, b"k1")]
    assert scan.index == {"read/kept": 1, "read/link": 1, "skip/me": 0}


def test_it_shares_one_read_between_a_wanted_file_and_the_visitor():
    recorder = Recorder()
    scan = scan_layers([layer(("read/db", b"data"))], {"read/db"}.__contains__, visitor=recorder)
    assert scan.files["read/db"].data == b"data"
    assert recorder.seen == [(0, "read/db", 4, b"data")]


def test_it_indexes_a_large_image_with_many_deletions_in_linear_time():
    base = [(f"usr/lib/pkg{d}/file{f}", b"") for d in range(100) for f in range(100)]  # 10,000 files
    top = [(f"usr/lib/pkg{d}/.wh.file{f}", b"") for d in range(100) for f in range(0, 100, 2)]
    top += [(f"usr/lib/pkg{d}/.wh..wh..opq", b"") for d in range(0, 100, 25)]
    started = time.perf_counter()
    scan = scan_layers([layer(*base), layer(*top)], nothing, index=True)
    assert time.perf_counter() - started < 5  # quadratic deletion would take minutes
    assert len(scan.index) == 10_000 - 5_000 - 4 * 50
