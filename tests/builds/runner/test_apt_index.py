"""Shared package lists: parsing, the dependency closure, the trimmed lists and the rewritten transaction,
in memory and from the host's store file (fetched once per host, damaged or old files fetched again)."""
import hashlib
import io
import multiprocessing
import os
import re
import tarfile
import time
from pathlib import Path

import pytest

from builds.compose.apt_merge import apt_merge
from builds.runner import apt_index
from builds.runner.apt_index import (
    ListsStore,
    PackageIndex,
    apt_index_apply,
    base_key,
    closure,
    index_for,
    index_from_tar,
    lists_for,
    packages_parse,
    stanzas_iter,
    store_write,
    transactions_rewrite,
)
from catalog.starter import apt_install
from tests.builds.runner.synthetic_lists import synthetic_lists

MAIN = """Package: wget
Version: 1.21.3-1+b2
Depends: libc6 (>= 2.34), libpsl5 (>= 0.16.0),
 libssl3 (>= 3.0.0) | libgnutls30:any
Filename: pool/main/w/wget/wget_1.21.3-1+b2_amd64.deb
SHA256: aaaa

Package: libc6
Version: 2.36-9
Pre-Depends: libgcc-s1

Package: libgcc-s1
Version: 12.2.0-14
Depends: libc6 (>= 2.35)

Package: libpsl5
Version: 0.21.2-1
Depends: libc6, libidn2-0

Package: libidn2-0
Version: 2.3.3-1
Provides: libidn2-any

Package: libssl3
Version: 3.0.11-1

Package: libgnutls30
Version: 3.7.9-2

Package: tzdata
Version: 2024a-0
Depends: debconf (>= 0.5) | debconf-2.0

Package: debconf
Version: 1.5.82
Provides: debconf-2.0

Package: cdebconf
Version: 0.270
Provides: debconf-2.0

Package: unrelated
Version: 1
"""
SECURITY = """Package: tzdata
Version: 2026f-0+deb12u1
Depends: debconf (>= 0.5) | debconf-2.0

Package: libssl3
Version: 3.0.17-1~deb12u3
"""
MAIN_LIST = "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
SECURITY_LIST = "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages"
RELEASES = {"deb.debian.org_debian_dists_bookworm_InRelease": b"-----BEGIN PGP SIGNED MESSAGE-----\nmain",
            "deb.debian.org_debian-security_dists_bookworm-security_InRelease": b"-----BEGIN PGP SIGNED MESSAGE-----\nsec"}


def archive_of(lists: dict[str, str], releases=RELEASES) -> bytes:
    """As the fetch container gives them: release files first (in apt's directory order), then the lists."""
    return tar_of({f"portal-lists/{name}": data for name, data in
                   [*releases.items(), *((name, text.encode()) for name, text in lists.items())]})


@pytest.fixture(params=["in memory", "host store"])
def index(request, tmp_path):
    """The same lists in both forms: every test taking it holds for the worker's store as for the reference."""
    if request.param == "in memory":
        return PackageIndex(release_files=dict(RELEASES),
                            lists={MAIN_LIST: packages_parse(MAIN), SECURITY_LIST: packages_parse(SECURITY)})
    return ListsStore(store_write(tmp_path, "base", archive_of({MAIN_LIST: MAIN, SECURITY_LIST: SECURITY})))


def test_it_parses_continuation_lines_alternatives_versions_and_qualifiers():
    wget = packages_parse(MAIN)[0]
    assert wget.name == "wget"
    assert wget.depends == [["libc6"], ["libpsl5"], ["libssl3", "libgnutls30"]]
    assert packages_parse(MAIN)[1].depends == [["libgcc-s1"]]  # Pre-Depends count too
    assert [s.provides for s in packages_parse(MAIN) if s.name == "libidn2-0"] == [["libidn2-any"]]
    assert wget.text.startswith("Package: wget\n") and wget.text.endswith("SHA256: aaaa")


def test_splitting_the_raw_bytes_gives_the_stanzas_of_the_whole_file_decoded():
    # accents, an emoji (4 bytes a character in a str), a sequence cut short before a line end, a stray byte
    raw = ("Package: a\nDescription: café 😀\n".encode() + b"X: \xe2\x82\n\nPackage: b\nX: \xff\n \t\n"
           b"Package: c\nDescription: \xc3\n\n\n")
    whole = [block.strip("\n") for block in re.split(r"\n[ \t]*\n", raw.decode("utf-8", errors="replace"))]
    assert [s.text for s in stanzas_iter(raw)] == [block for block in whole if block]
    assert [s.text for s in stanzas_iter(memoryview(raw))] == [s.text for s in packages_parse(raw.decode("utf-8", "replace"))]
    assert "café 😀" in next(stanzas_iter(raw)).text and "\ufffd" in list(stanzas_iter(raw))[2].text


def test_the_closure_follows_every_alternative_provider_and_cycle(index):
    assert closure(index, ["wget"]) == {"wget", "libc6", "libgcc-s1", "libpsl5", "libidn2-0", "libssl3", "libgnutls30"}
    assert closure(index, ["tzdata"]) == {"tzdata", "debconf", "cdebconf"}  # both providers of debconf-2.0


def test_a_package_missing_from_the_lists_gives_no_closure(index):
    assert closure(index, ["wget", "no-such-package"]) is None


def test_the_trimmed_lists_keep_every_version_of_the_closure_and_the_release_files_unchanged(index):
    files = lists_for(index, ["tzdata"])
    assert {name: files[name] for name in RELEASES} == RELEASES
    main = files[MAIN_LIST].decode()
    assert [s.name for s in packages_parse(main)] == ["tzdata", "debconf", "cdebconf"]
    assert "Version: 2024a-0" in main and "unrelated" not in main and "wget" not in main
    assert [s.name for s in packages_parse(files[SECURITY_LIST].decode())] == ["tzdata"]  # the fix apt will pick
    assert lists_for(index, ["unrelated"])[SECURITY_LIST] == b""  # a suite with nothing needed: empty list


def test_only_the_composers_transactions_are_rewritten_to_copy_the_lists(index):
    dockerfile = "\n\n".join(["FROM base@sha256:" + "a" * 64, apt_merge([apt_install("wget")]).runs[0],
                              "RUN apt-get update && apt-get install -y tzdata",  # not our form: as written
                              apt_merge([apt_install("no-such-package")]).runs[0]])  # unknown: apt's own error
    rewritten, files, count = transactions_rewrite(dockerfile, index)
    assert count == 1
    folder = next(iter(files)).split("/")[:2]
    assert rewritten.split("\n\n")[1] == (
        f"COPY {'/'.join(folder)}/ /var/lib/apt/lists/\n"
        "RUN (apt-get install -y --no-install-recommends wget \\\n"
        "     || (rm -rf /var/lib/apt/lists/* && apt-get update && apt-get install -y --no-install-recommends wget)) \\\n"
        " && rm -rf /var/lib/apt/lists/*")
    assert rewritten.split("\n\n")[2:] == dockerfile.split("\n\n")[2:]
    assert sorted(path.rsplit("/", 1)[1] for path in files) == sorted([*RELEASES, MAIN_LIST, SECURITY_LIST])


def test_the_same_packages_give_the_same_folder_so_the_layer_cache_still_shares_it(index):
    first = transactions_rewrite(apt_merge([apt_install("wget")]).runs[0], index)
    second = transactions_rewrite("FROM other\n" + apt_merge([apt_install("wget")]).runs[0], index)
    assert first[1] == second[1]
    changed = PackageIndex(release_files=dict(RELEASES), lists={MAIN_LIST: packages_parse(MAIN.replace("1.21.3-1+b2", "1.21.4")),
                                                                SECURITY_LIST: packages_parse(SECURITY)})
    assert transactions_rewrite(apt_merge([apt_install("wget")]).runs[0], changed)[1].keys() != first[1].keys()
    # a change to a package outside the closure changes nothing
    other = PackageIndex(release_files=dict(RELEASES), lists={MAIN_LIST: packages_parse(MAIN.replace("Version: 1\n", "Version: 2\n")),
                                                              SECURITY_LIST: packages_parse(SECURITY)})
    assert transactions_rewrite(apt_merge([apt_install("wget")]).runs[0], other)[1] == first[1]


def tar_of(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_it_reads_the_fetch_containers_archive_and_ignores_anything_else():
    index = index_from_tar(tar_of({f"portal-lists/{MAIN_LIST}": MAIN.encode(), **{f"portal-lists/{k}": v for k, v in RELEASES.items()},
                                   "portal-lists/../../etc/passwd": b"root", "portal-lists/lock": b""}))
    assert set(index.lists) == {MAIN_LIST} and set(index.release_files) == set(RELEASES)
    with pytest.raises(ValueError, match="no package lists"):
        index_from_tar(tar_of({"portal-lists/lock": b""}))


# The digest of transactions_rewrite's Dockerfile and context files (names, order and bytes) on the synthetic
# lists (tests/builds/runner/synthetic_lists.py: a few hundred Debian-shaped stanzas of our own), recorded with
# the in-memory implementation before the host store existed. The layer cache keys on these bytes.
RECORDED_REWRITE = "98c71d67f7d5def6be729a6afe898f0b1c45c1ed3b1be226eacc7d346200b8e4"


def rewrite_digest(index) -> tuple[int, str]:
    dockerfile = "\n\n".join(["FROM base", *(apt_merge([apt_install(packages)]).runs[0] for packages in
                                              ("wget", "tzdata curl", "ca-certificates", "no-such-package"))])
    rewritten, files, count = transactions_rewrite(dockerfile, index)
    digest = hashlib.sha256(rewritten.encode())
    for path, data in files.items():
        digest.update(path.encode() + b"\0" + data + b"\0")
    return count, digest.hexdigest()


def test_the_store_rewrites_the_lists_byte_for_byte_as_the_in_memory_index_did(tmp_path):
    lists = synthetic_lists()
    memory = PackageIndex(release_files=dict(RELEASES), lists={name: packages_parse(text) for name, text in lists.items()})
    store = ListsStore(store_write(tmp_path, "base", archive_of(lists)))
    assert rewrite_digest(memory) == rewrite_digest(store) == (3, RECORDED_REWRITE)
    for names in (["wget"], ["tzdata", "curl"], ["libc6"], ["debconf-2.0"], ["no-such-package"]):
        assert closure(store, names) == closure(memory, names)
        assert lists_for(store, names) == lists_for(memory, names)


def counting_fetch(calls: Path, lists=None):
    """A fetch that leaves a line in `calls` per call (from any process) and gives the fixture's lists."""
    def fetch(base, proxy):
        with open(calls, "a") as log:
            log.write(f"{os.getpid()} {base} {proxy}\n")
        time.sleep(0.5)  # long enough for the other process to reach the lock meanwhile (not asserted on)
        return archive_of(lists or {MAIN_LIST: MAIN, SECURITY_LIST: SECURITY})
    return fetch


def fetches(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


@pytest.fixture
def host(tmp_path):
    """A store directory of its own, and no store left open in this process from another test."""
    apt_index._stores.clear()
    yield tmp_path / "apt-index"
    apt_index._stores.clear()


def test_it_fetches_once_per_base_until_the_lists_are_too_old(host, tmp_path, monkeypatch):
    fetch = counting_fetch(tmp_path / "calls")
    first = index_for("base-a", proxy="", max_age=3600, fetch=fetch, directory=host)
    assert first is index_for("base-a", proxy="", max_age=3600, fetch=fetch, directory=host)
    index_for("base-b", proxy="http://cache:3142", max_age=3600, fetch=fetch, directory=host)
    assert [line.split(" ", 1)[1] for line in fetches(tmp_path / "calls")] == ["base-a ", "base-b http://cache:3142"]
    assert closure(first, ["wget"]) == {"wget", "libc6", "libgcc-s1", "libpsl5", "libidn2-0", "libssl3", "libgnutls30"}
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 4000)  # an hour later, for this process and any other
    again = index_for("base-a", proxy="", max_age=3600, fetch=fetch, directory=host)
    assert len(fetches(tmp_path / "calls")) == 3 and again.path != first.path and not first.path.exists()


def test_another_process_reads_the_hosts_file_instead_of_fetching(host, tmp_path):
    host.mkdir()
    written = store_write(host, "base-a", archive_of({MAIN_LIST: MAIN}))  # as another worker process left it

    def no_fetch(base, proxy):
        raise AssertionError("fetched although the host holds fresh lists")

    store = index_for("base-a", proxy="", max_age=3600, fetch=no_fetch, directory=host)
    assert store.path == written and store.known("wget") and not store.known("tzdata-of-security")


def first_fetch_in_a_process(host, calls, barrier, results):
    apt_index._stores.clear()
    barrier.wait()
    results.put(str(index_for("base-a", proxy="", max_age=3600, fetch=counting_fetch(calls), directory=host).path))


def test_two_processes_starting_together_fetch_once_and_share_the_file(host, tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=first_fetch_in_a_process, args=(host, tmp_path / "calls", barrier, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    paths = {results.get(timeout=120) for _ in workers}
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert len(fetches(tmp_path / "calls")) == 1
    assert len(paths) == 1 and sorted(p.name for p in host.glob("*.sqlite3")) == [Path(paths.pop()).name]


@pytest.mark.parametrize("damage", ["cut short", "one byte changed", "not a database"])
def test_a_damaged_file_is_never_used_but_fetched_again(host, tmp_path, damage):
    fetch = counting_fetch(tmp_path / "calls")
    path = index_for("base-a", proxy="", max_age=3600, fetch=fetch, directory=host).path
    data = path.read_bytes()
    path.write_bytes({"cut short": data[:len(data) // 2], "one byte changed": data[:-10] + b"x" + data[-9:],
                      "not a database": b"x" * len(data)}[damage])
    apt_index._stores.clear()  # a worker process that had not opened it yet
    store = index_for("base-a", proxy="", max_age=3600, fetch=fetch, directory=host)
    assert len(fetches(tmp_path / "calls")) == 2
    assert lists_for(store, ["tzdata"])[SECURITY_LIST].startswith(b"Package: tzdata\nVersion: 2026f-0+deb12u1")
    assert list(host.glob("*.sqlite3")) == [store.path]


def test_a_file_a_killed_writer_left_half_written_is_ignored_and_removed(host, tmp_path):
    host.mkdir()
    leftover = host / f".{base_key('base-a')}-killed.tmp"
    leftover.write_bytes(b"SQLite format 3\0")
    store = index_for("base-a", proxy="", max_age=3600, fetch=counting_fetch(tmp_path / "calls"), directory=host)
    assert len(fetches(tmp_path / "calls")) == 1 and store.known("wget") and not leftover.exists()


def test_an_old_file_is_fetched_again_and_replaced_so_one_file_per_base_stays(host, tmp_path):
    host.mkdir()
    old = store_write(host, "base-a", archive_of({MAIN_LIST: MAIN}), fetched_at=time.time() - 4000)
    other_base = store_write(host, "base-b", archive_of({MAIN_LIST: MAIN}))
    store = index_for("base-a", proxy="", max_age=3600, fetch=counting_fetch(tmp_path / "calls"), directory=host)
    assert len(fetches(tmp_path / "calls")) == 1 and store.path != old and not old.exists()
    assert sorted(host.glob("*.sqlite3")) == sorted([store.path, other_base])
    assert store.known("tzdata") and time.time() - store.fetched_at < 3600


def test_a_failed_fetch_leaves_the_dockerfile_as_composed_and_says_so(monkeypatch, settings):
    settings.APT_PROXY = ""

    def broken(base, **kwargs):
        raise ValueError("apt-get update failed in the base (exit 100)")

    monkeypatch.setattr(apt_index, "index_for", broken)
    dockerfile = "FROM base\n" + apt_merge([apt_install("wget")]).runs[0]
    lines, files = [], {}
    assert apt_index_apply(dockerfile, files, lines.append) == dockerfile
    assert files == {} and "could not be fetched" in lines[0] and "exit 100" in lines[0]


def test_it_is_off_at_zero_age_and_untouched_without_transactions(monkeypatch, settings, index):
    monkeypatch.setattr(apt_index, "index_for", lambda base, **kwargs: index)
    dockerfile = "FROM base\n" + apt_merge([apt_install("wget")]).runs[0]
    settings.APT_INDEX_MAX_AGE_SECONDS = 0
    assert apt_index_apply(dockerfile, {}, print) == dockerfile
    settings.APT_INDEX_MAX_AGE_SECONDS, settings.APT_PROXY = 3600, ""
    assert apt_index_apply("FROM base\nRUN true", {}, print) == "FROM base\nRUN true"
    lines = []
    assert "COPY portal-apt-lists/" in apt_index_apply(dockerfile, {}, lines.append)
    assert lines[0].startswith("Package lists: 1 of 1 apt transaction(s) use the lists fetched for this base")
