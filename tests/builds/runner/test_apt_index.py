"""Shared package lists: parsing, the dependency closure, the trimmed lists and the rewritten transaction."""
import io
import tarfile

import pytest

from builds.compose.apt_merge import apt_merge
from builds.runner import apt_index
from builds.runner.apt_index import (
    PackageIndex,
    apt_index_apply,
    closure,
    index_for,
    index_from_tar,
    lists_for,
    packages_parse,
    transactions_rewrite,
)
from catalog.starter import apt_install

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


@pytest.fixture
def index():
    return PackageIndex(release_files=dict(RELEASES),
                        lists={MAIN_LIST: packages_parse(MAIN), SECURITY_LIST: packages_parse(SECURITY)})


def test_it_parses_continuation_lines_alternatives_versions_and_qualifiers():
    wget = packages_parse(MAIN)[0]
    assert wget.name == "wget"
    assert wget.depends == [["libc6"], ["libpsl5"], ["libssl3", "libgnutls30"]]
    assert packages_parse(MAIN)[1].depends == [["libgcc-s1"]]  # Pre-Depends count too
    assert [s.provides for s in packages_parse(MAIN) if s.name == "libidn2-0"] == [["libidn2-any"]]
    assert wget.text.startswith("Package: wget\n") and wget.text.endswith("SHA256: aaaa")


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


def test_it_fetches_once_per_base_until_the_lists_are_too_old(monkeypatch, index):
    apt_index._cache.clear()
    calls = []

    def fetch(base, proxy):
        calls.append((base, proxy))
        return PackageIndex(release_files=index.release_files, lists=index.lists)

    assert index_for("base-a", proxy="", max_age=3600, fetch=fetch) is index_for("base-a", proxy="", max_age=3600, fetch=fetch)
    index_for("base-b", proxy="http://cache:3142", max_age=3600, fetch=fetch)
    assert calls == [("base-a", ""), ("base-b", "http://cache:3142")]
    apt_index._cache["base-a"].fetched_at -= 4000
    index_for("base-a", proxy="", max_age=3600, fetch=fetch)
    assert len(calls) == 3
    apt_index._cache.clear()


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
