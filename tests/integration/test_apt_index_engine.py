"""Shared package lists on a real engine and the real Debian mirror: fetched from the base, used by a
transaction instead of apt-get update, and a transaction the trimmed lists cannot satisfy still builds."""
import docker
import pytest

from adapters.engine import context_tar, image_build, image_remove_local
from builds.compose.apt_merge import apt_merge
from builds.runner.apt_index import PackageIndex, index_fetch, transactions_rewrite
from catalog.starter import apt_install
from tests.conftest import run_in_image

pytestmark = pytest.mark.integration
BASE = "127.0.0.1:5000/base/debian:bookworm"


@pytest.fixture(scope="module")
def index(services):
    return index_fetch(BASE)


def build(dockerfile, files, tag):
    lines = []
    image_id = image_build(context=context_tar({"Dockerfile": dockerfile.encode(), **files}), tag=tag, build_id=0,
                           on_line=lines.append, deadline_seconds=600, no_cache=True)
    return image_id, "\n".join(lines)


def test_the_base_gives_signed_release_files_and_the_lists_of_each_suite(index):
    assert any(name.endswith("_InRelease") for name in index.release_files)
    assert all(data.startswith(b"-----BEGIN PGP SIGNED MESSAGE-----") for data in index.release_files.values())
    assert {"wget", "tzdata", "libc6"} <= set(index.by_name)
    assert any("security" in name for name in index.lists)


def test_a_transaction_installs_from_the_copied_lists_without_updating_and_leaves_no_lists(index):
    dockerfile, files, count = transactions_rewrite(f"FROM {BASE}\n" + apt_merge([apt_install("wget")]).runs[0], index)
    assert count == 1 and sum(len(data) for data in files.values()) < 1_000_000
    image_id, log = build(dockerfile, files, "portal-test-apt-index:wget")
    try:
        assert "InRelease" not in log and "Reading package lists" in log  # no apt-get update ran
        status, output = run_in_image(image_id, ["sh", "-c", "wget --version | head -1; ls -A /var/lib/apt/lists | wc -l"])
        assert status == 0 and output.startswith("GNU Wget") and output.split()[-1] == "0"
    finally:
        image_remove_local(reference="portal-test-apt-index:wget")


def test_lists_missing_a_dependency_fall_back_to_apt_get_update_and_still_build(index):
    needed = {stanza.name for _, stanza in index.by_name["wget"]}
    broken = PackageIndex(release_files=index.release_files, lists={
        name: [s for s in stanzas if s.name != "libpsl5"] for name, stanzas in index.lists.items()})
    assert "libpsl5" in {d for _, s in index.by_name["wget"] for alts in s.depends for d in alts} and needed
    dockerfile, files, count = transactions_rewrite(f"FROM {BASE}\n" + apt_merge([apt_install("wget")]).runs[0], broken)
    image_id, log = build(dockerfile, files, "portal-test-apt-index:fallback")
    try:
        assert "libpsl5" in log and "InRelease" in log  # apt said what was missing, then updated
        assert run_in_image(image_id, ["wget", "--version"])[0] == 0
    finally:
        image_remove_local(reference="portal-test-apt-index:fallback")
    assert docker.APIClient(version="auto").containers(all=True, filters={"label": "io.image-portal.apt-index"}) == []


def test_a_fetch_removes_the_exited_container_a_killed_worker_left(index):
    api = docker.APIClient(version="auto")
    leftover = api.create_container(image=BASE, command=["true"], labels={"io.image-portal.apt-index": "fetch"})
    api.start(leftover)
    api.wait(leftover, timeout=60)
    again = index_fetch(BASE)
    assert set(again.lists) == set(index.lists)
    assert api.containers(all=True, filters={"label": "io.image-portal.apt-index"}) == []
