"""Shared work between builds on a real engine: the package cache build arg, its fallback, and the
removal of the step images a failed build leaves behind (busybox base: fast)."""
import socket
import uuid
from unittest import mock

import docker
import pytest

from adapters.engine import context_tar, image_build, image_remove_local, step_images_from_log
from builds.compose.snapshot import base_reference
from builds.models import Build, BuildLogChunk
from builds.recipes.services import recipe_save
from builds.runner.layers import build_layers_clean
from builds.runner.pipeline import build_run
from builds.services import build_request
from catalog.models import BaseImage, Component, ComponentVersion

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def engine():
    return docker.APIClient(version="auto")


def image_exists(image_id):
    try:
        engine().inspect_image(image_id)
        return True
    except docker.errors.NotFound:
        return False


def full_log(build):
    return "".join(build.log_chunks.order_by("seq").values_list("text", flat=True))


def busybox_recipe(team, member, name, fragment):
    component = Component.objects.create(slug=f"c-{name}", name=name, kind="option")
    version = ComponentVersion.objects.create(component=component, version="1", os_families=["busybox"], fragment=fragment)
    return recipe_save(user=member, team=team, name=name, base=BaseImage.objects.get(slug="busybox"),
                       choices=[(version, {})])


def busybox_build(team, member, name, fragment):
    """Run one build in this process (no Celery), so settings overridden by the test apply."""
    recipe = busybox_recipe(team, member, name, fragment)
    with mock.patch("builds.services.build_dispatch"):  # no broker message: the build runs here
        build = build_request(user=member, recipe=recipe, no_cache=True)
    build_run(build.pk)
    build.refresh_from_db()
    return build


@pytest.fixture
def listening_proxy():
    """Something that accepts TCP where the cache would be (the build step never calls it)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_the_proxy_build_arg_reaches_the_step_but_not_the_cache_key_history_or_image(starter_catalog):
    token = uuid.uuid4().hex
    dockerfile = (f"FROM {base_reference(BaseImage.objects.get(slug='busybox'))}\n"
                  f'RUN echo "proxy=[$http_proxy] {token}" | tee /proxy-seen\n')
    context = context_tar({"Dockerfile": dockerfile.encode()})
    first_lines, second_lines = [], []
    first = image_build(context=context, tag=f"test-proxy-{token}:a", build_id=1, on_line=first_lines.append,
                        deadline_seconds=300, buildargs={"http_proxy": "http://192.0.2.10:3142"})
    second = image_build(context=context, tag=f"test-proxy-{token}:b", build_id=1, on_line=second_lines.append,
                         deadline_seconds=300, buildargs={"http_proxy": "http://192.0.2.99:9"})
    try:
        assert f"proxy=[http://192.0.2.10:3142] {token}" in first_lines, "the step saw the proxy"
        assert first == second, "another proxy address (or none) must not split the layer cache"
        assert " ---> Using cache" in second_lines
        history = " ".join(entry["CreatedBy"] for entry in engine().history(first))
        assert token in history and "192.0.2" not in history, "the proxy address never lands in the history"
        assert not any(e.startswith("http_proxy") for e in engine().inspect_image(first)["Config"]["Env"] or [])
        assert not any("not consumed" in line for line in first_lines), "a predefined arg needs no ARG line"
    finally:
        for tag in ("a", "b"):
            engine().remove_image(f"test-proxy-{token}:{tag}")


def test_a_build_goes_through_the_cache_when_it_answers(starter_catalog, team, member, settings, listening_proxy):
    settings.APT_PROXY = listening_proxy
    token = uuid.uuid4().hex
    build = busybox_build(team, member, "via-cache", f'RUN echo "proxy=[$http_proxy] {token}"')

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    log = full_log(build).splitlines()
    assert any(line.startswith(f"Network through the build proxy at {listening_proxy}") for line in log)
    assert f"proxy=[{listening_proxy}] {token}" in log


def test_a_build_runs_without_network_and_says_so_when_the_proxy_is_down(starter_catalog, team, member, settings):
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    settings.APT_PROXY = down
    token = uuid.uuid4().hex
    build = busybox_build(team, member, "cache-down", f'RUN echo "proxy=[$http_proxy] {token}"')

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    log = full_log(build)
    assert f"Build proxy {down} does not answer" in log and "its steps reach no network" in log
    assert f"proxy=[] {token}" in log.splitlines(), "the step ran without a proxy"


def test_a_build_failing_at_a_later_step_leaves_none_of_its_step_images(starter_catalog, team, member):
    token = uuid.uuid4().hex  # fresh layers: nothing shared with other tests' images
    build = busybox_build(team, member, "fails-late",
                          f"RUN echo {token}-one > /one\nRUN echo {token}-two > /two\nRUN echo failing && false")

    assert build.status == Build.Status.FAILED
    assert "false" in build.failed_step
    left = step_images_from_log(full_log(build))
    assert len(left) == 2, "the two finished steps were committed as images"
    assert not [i for i in left if image_exists(i)], "the failed build's step images were removed"
    # Not checked by label: the engine adds the build label as the LAST step, which a failed build
    # never reaches, and build ids of other portal databases sharing this engine collide anyway.


def test_step_images_a_running_build_uses_are_kept_until_it_finishes(starter_catalog, team, member):
    token = uuid.uuid4().hex
    dockerfile = f"FROM {base_reference(BaseImage.objects.get(slug='busybox'))}\nRUN echo {token} > /shared\n"
    lines = []
    image_build(context=context_tar({"Dockerfile": dockerfile.encode()}), tag=f"test-shared-{token}:x",
                build_id=1, on_line=lines.append, deadline_seconds=300)
    # Dropping the tag (parents kept) deletes the engine's LABEL image and leaves the RUN step's
    # image untagged and childless: what a build leaves when it fails right after that step.
    image_remove_local(reference=f"test-shared-{token}:x")
    log_text = "\n".join(lines) + "\n"
    shared = step_images_from_log(log_text)[0]
    assert image_exists(shared)
    failed = busybox_build(team, member, "finished", "RUN false")
    running = Build.objects.create(recipe=failed.recipe, team=team, requested_by=member, status=Build.Status.RUNNING,
                                   snapshot={}, steps={})
    for build in (failed, running):
        BuildLogChunk.objects.create(build=build, seq=99, first_line=1, step="build", text=log_text)

    build_layers_clean(build=failed)
    assert image_exists(shared), "a layer a running build names is never removed"

    Build.objects.filter(pk=running.pk).update(status=Build.Status.SUCCEEDED)
    build_layers_clean(build=failed)
    assert not image_exists(shared), "once no running build names it, the failed build's leftover goes"


@pytest.fixture
def apt_cache():
    """The build proxy scripts/ensure-services.sh runs on the build network, which sends Debian's
    mirrors through the package cache; fail (never skip) without it."""
    from builds.runner.build_network import build_proxy_url, proxy_answers

    url = build_proxy_url()
    if not url or proxy_answers(url, 2):
        pytest.fail(f"The build proxy {url or '(no build network)'} is not answering: "
                    "start it with scripts/ensure-services.sh", pytrace=False)
    return url


def test_a_step_downloads_through_the_real_package_cache(starter_catalog, team, member, settings, apt_cache):
    from pathlib import Path

    settings.APT_PROXY = apt_cache
    acng_log = Path("/var/log/apt-cacher-ng/apt-cacher.log")
    url = "http://deb.debian.org/debian/dists/bookworm/Release"  # a repository file: cached
    served_before = acng_log.read_text().count("dists/bookworm/Release") if acng_log.exists() else 0
    token = uuid.uuid4().hex
    build = busybox_build(team, member, "through-cache",
                          f"RUN wget -q -O /release {url} && grep -q '^Codename: bookworm' /release && echo {token}")

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert token in full_log(build).splitlines()
    assert acng_log.read_text().count("dists/bookworm/Release") > served_before, "the cache served the download"


def test_the_reaper_removes_the_step_images_of_a_build_whose_worker_died(starter_catalog, team, member):
    import datetime

    from django.utils import timezone

    from builds.runner.reaper import MAX_ATTEMPTS, builds_reap
    from builds.tasks import build_dispatch

    token = uuid.uuid4().hex
    dockerfile = f"FROM {base_reference(BaseImage.objects.get(slug='busybox'))}\nRUN echo {token} > /left\n"
    lines = []
    image_build(context=context_tar({"Dockerfile": dockerfile.encode()}), tag=f"test-reaped-{token}:x",
                build_id=1, on_line=lines.append, deadline_seconds=300)
    image_remove_local(reference=f"test-reaped-{token}:x")
    left = step_images_from_log("\n".join(lines))[0]
    recipe = busybox_recipe(team, member, "reaped", f"RUN echo {token}")
    dead = Build.objects.create(recipe=recipe, team=team, requested_by=member, status=Build.Status.RUNNING,
                                attempts=MAX_ATTEMPTS, snapshot={}, steps={"build": {"status": "running"}},
                                heartbeat=timezone.now() - datetime.timedelta(hours=1))
    BuildLogChunk.objects.create(build=dead, seq=1, first_line=1, step="build", text="\n".join(lines) + "\n")

    assert builds_reap(dispatch=build_dispatch)["failed"] == 1
    dead.refresh_from_db()
    assert dead.status == Build.Status.FAILED
    assert not image_exists(left), "the dead build's step image went with it"
