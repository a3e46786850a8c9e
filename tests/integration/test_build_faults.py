"""Builds never get stuck: cancel kills the running step; a worker killed mid-build is recovered."""
import datetime
import os
import re
import signal
import time

import docker
import pytest
from django.utils import timezone

from builds.models import Build, WorkerHeartbeat
from builds.recipes.services import recipe_save
from builds.runner.reaper import builds_reap
from builds.services import build_cancel, build_request
from builds.tasks import build_dispatch
from catalog.models import BaseImage, Component, ComponentVersion
from tests.conftest import wait_for_build

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def sleeper_recipe(team, member, name, seconds):
    component = Component.objects.create(slug=f"sleep-{name}", name="Sleeper", kind="option")
    version = ComponentVersion.objects.create(
        component=component, version="1", os_families=["busybox"],
        fragment=f"RUN echo started-sleeping-{name} && sleep {seconds} && echo woke-up")
    return recipe_save(user=member, team=team, name=name, base=BaseImage.objects.get(slug="busybox"),
                       choices=[(version, {})])


def wait_for_log(build, text, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if build.log_chunks.filter(text__contains=text).exists():
            return "".join(build.log_chunks.order_by("seq").values_list("text", flat=True))
        time.sleep(0.2)
    pytest.fail(f"'{text}' never appeared in the log of build {build.pk}")


def full_log(build):
    return "".join(build.log_chunks.order_by("seq").values_list("text", flat=True))


def container_exists(container_id):
    client = docker.APIClient(version="auto")
    try:
        client.inspect_container(container_id)
        return True
    except docker.errors.NotFound:
        return False


def test_it_cancels_a_running_build_and_removes_its_container(starter_catalog, celery_worker, team, member):
    recipe = sleeper_recipe(team, member, "cancel-me", 300)
    build = build_request(user=member, recipe=recipe, no_cache=True)
    wait_for_log(build, "started-sleeping-cancel-me")
    # The Dockerfile's "Step n/m : RUN echo started-sleeping..." line matches too and may be stored
    # before the engine's "Running in <id>" line of that step: wait for the id that follows it.
    deadline = time.monotonic() + 30
    while not (found := re.findall(r"started-sleeping-cancel-me.*?Running in ([0-9a-f]{12})", full_log(build), re.S)):
        assert time.monotonic() < deadline, full_log(build)
        time.sleep(0.2)
    container_id = found[-1]

    asked = time.monotonic()
    build_cancel(user=member, build=build)
    wait_for_build(build, timeout=60)
    assert time.monotonic() - asked < 15, "a running build stops within seconds"
    assert build.status == Build.Status.CANCELLED
    assert build.steps["build"]["status"] == "cancelled"
    assert "woke-up" not in full_log(build).splitlines(), "the sleeping command never finished"
    deadline = time.monotonic() + 10
    while container_exists(container_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not container_exists(container_id), "the build container was killed and removed"


def test_it_retries_within_seconds_a_build_whose_pool_process_was_killed(starter_catalog, celery_worker, team, member):
    """kill -9 of the pool process running the build: its worker sees the process die and retries
    the build at once; nobody waits for the heartbeat to go stale (the reaper is not called here)."""
    recipe = sleeper_recipe(team, member, "killed", 4)
    build = build_request(user=member, recipe=recipe, no_cache=True)
    wait_for_log(build, "started-sleeping-killed")
    build.refresh_from_db()
    host, pid = build.worker.rsplit(":", 1)
    assert host == celery_worker, "the build records the Celery node that runs it"
    killed = time.monotonic()
    os.kill(int(pid), signal.SIGKILL)  # the pool process running the build dies without a word

    deadline = killed + 60
    while not build.log_chunks.filter(step="reaper", text__contains="queued again").exists():
        assert time.monotonic() < deadline, f"not noticed within 60 s: {full_log(build)[-2000:]}"
        time.sleep(0.1)
    detected = time.monotonic() - killed
    print(f"\nkill -9 of the pool process -> build {build.pk} queued again after {detected:.1f} s")
    assert detected < 30, f"noticed after {detected:.1f} s"
    note = build.log_chunks.get(step="reaper").text
    assert "worker process running this build died" in note and "SIGKILL" in note, note
    wait_for_build(build, timeout=120)
    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert build.attempts == 2
    assert "woke-up" in full_log(build).splitlines()


def test_it_retries_a_push_to_an_unreachable_registry_then_says_so(services):
    from adapters.engine import EngineError, image_push, image_tag

    client = docker.APIClient(version="auto")
    base = client.inspect_image("127.0.0.1:5000/base/busybox:1.35")["Id"]
    image_tag(image_id=base, repository="127.0.0.1:5999/nowhere/busybox", tag="retry")
    lines = []
    try:
        with pytest.raises(EngineError, match="gave up after 3 attempts"):
            image_push(repository="127.0.0.1:5999/nowhere/busybox", tag="retry", on_line=lines.append,
                       attempts=3, first_delay=0.1)
    finally:
        client.remove_image("127.0.0.1:5999/nowhere/busybox:retry", noprune=True)
    assert sum("retrying in" in line for line in lines) == 2


def test_it_dispatches_again_builds_whose_broker_messages_were_lost(starter_catalog, celery_worker, team, member):
    """Redis keeps nothing on disk here: a restart loses queued messages. The database still has
    the builds, and the reaper sends them again."""
    from portal.celery import app

    recipe = sleeper_recipe(team, member, "lost", 0)
    app.control.cancel_consumer("builds", destination=[celery_worker])  # nobody takes the messages for now
    try:
        builds = [build_request(user=member, recipe=recipe, no_cache=True) for _ in range(2)]
        time.sleep(1)
        app.control.purge()  # the messages vanish, as in a broker restart
    finally:
        app.control.add_consumer("builds", destination=[celery_worker])
    time.sleep(2)
    for build in builds:
        build.refresh_from_db()
        assert build.status == Build.Status.QUEUED, "nothing ran them, nothing lost them either"
    counts = builds_reap(dispatch=build_dispatch, now=timezone.now() + datetime.timedelta(hours=1))
    assert counts["redispatched"] == 2
    for build in builds:
        assert wait_for_build(build, timeout=120).status == Build.Status.SUCCEEDED


def test_a_build_says_no_builder_is_running_while_no_worker_takes_builds(starter_catalog, celery_worker, team, member,
                                                                          client):
    """A real worker writes its heartbeat: while it consumes no build queue the build's page and API
    say so; once it takes builds again the message goes and the build runs."""
    from portal.celery import app
    from tests.integration.private_services import wait_until

    def builds_consumed() -> bool:
        return "builds" in WorkerHeartbeat.objects.get(node=celery_worker).queues

    client.force_login(member)
    wait_until(lambda: WorkerHeartbeat.objects.filter(node=celery_worker).exists(), 30, "the worker's heartbeat row")
    app.control.cancel_consumer("builds", destination=[celery_worker], reply=True)
    try:
        wait_until(lambda: not builds_consumed(), 30, "the heartbeat saying the worker no longer takes builds")
        build = build_request(user=member, recipe=sleeper_recipe(team, member, "nobody", 3), no_cache=True)
        api = client.get(f"/api/builds/{build.pk}/").json()
        assert api["status"] == "queued" and api["liveness"]["state"] == "no-builder", api["liveness"]
        assert b"No builder is running: the build will start when one is back." in client.get(f"/builds/{build.pk}").content
    finally:
        app.control.add_consumer("builds", destination=[celery_worker], reply=True)
    wait_until(builds_consumed, 30, "the heartbeat saying the worker takes builds again")
    wait_for_log(build, "started-sleeping-nobody")
    assert build.pk in WorkerHeartbeat.objects.get(node=celery_worker).active_builds or Build.objects.get(pk=build.pk).is_done
    api = client.get(f"/api/builds/{build.pk}/").json()
    assert api["liveness"]["state"] == "ok", api
    assert b"No builder is running" not in client.get(f"/builds/{build.pk}").content
    wait_for_build(build, timeout=120)
    assert build.status == Build.Status.SUCCEEDED
