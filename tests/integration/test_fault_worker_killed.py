"""The whole build worker is killed (kill -9 of its process group) while it runs a build.

The build's page and API say at once that its builder stopped answering; the reaper, scheduled
by beat and run by another worker (not the dead one), retries the build once its heartbeat is
stale; while no worker takes builds the page says no builder is running; a new worker (what a
supervisor starts) then finishes it. Default liveness settings, so the times printed are the
production ones.
"""
import os
import signal
import time

import pytest
from django.conf import settings

from builds.liveness import build_liveness, workers_alive
from builds.models import Build
from builds.services import build_request
from tests.conftest import wait_for_build
from tests.integration.private_services import wait_until
from tests.integration.test_build_faults import full_log, sleeper_recipe, wait_for_log

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_a_build_whose_whole_worker_was_killed_is_said_lost_and_retried_by_the_reaper_elsewhere(
        starter_catalog, fault_worker_factory, team, member, client):
    builder = fault_worker_factory("killed-builder", concurrency=1, queues="builds")
    fault_worker_factory("housekeeper", concurrency=1, beat=True, queues="default")  # beat + reaper, no builds
    client.force_login(member)
    build = build_request(user=member, recipe=sleeper_recipe(team, member, "orphan", 20), no_cache=True)
    wait_for_log(build, "started-sleeping-orphan")
    liveness = client.get(f"/api/builds/{build.pk}/").json()["liveness"]
    running = Build.objects.get(pk=build.pk)
    assert liveness["state"] == "ok", (liveness, running.worker, running.heartbeat, list(workers_alive().values(
        "node", "last_seen")), "see test-artifacts/worker-killed-builder.log")

    os.killpg(builder.pid, signal.SIGKILL)  # the worker, its pool and the build's threads: all gone at once
    killed = time.monotonic()
    wait_until(lambda: client.get(f"/api/builds/{build.pk}/").json()["liveness"]["state"] == "builder-lost", 60,
               "the API saying the builder stopped answering")
    said_lost = time.monotonic() - killed
    assert b"stopped answering" in client.get(f"/builds/{build.pk}").content
    wait_until(lambda: Build.objects.get(pk=build.pk).status == Build.Status.QUEUED, 120, "the reaper retrying the build")
    requeued = time.monotonic() - killed
    # The session's own test worker (other modules, the shared Redis) shares this database and takes
    # builds: only this module's workers, all on the private Redis, count here.
    ours = workers_alive().filter(node__startswith="faults-")
    assert build_liveness(Build.objects.get(pk=build.pk), alive=ours).state == "no-builder", \
        "queued again, and no worker takes builds now"

    fault_worker_factory("new-builder", concurrency=1, queues="builds")  # what the supervisor would start
    wait_for_build(build, timeout=120)
    print(f"\nwhole worker killed: said lost after {said_lost:.1f} s, queued again by the reaper after {requeued:.1f} s "
          f"(stale window {settings.BUILD_STALE_SECONDS} s, reaper every {settings.REAPER_INTERVAL_SECONDS} s), "
          f"{build.status} {time.monotonic() - killed:.0f} s after the kill")
    assert said_lost < settings.WORKER_STALE_SECONDS + 2 * settings.WORKER_HEARTBEAT_SECONDS
    assert requeued < settings.BUILD_STALE_SECONDS + 2 * settings.REAPER_INTERVAL_SECONDS + 5
    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert build.attempts == 2
    assert build.log_chunks.filter(step="reaper", text__contains="without a heartbeat").exists()
    assert full_log(build).splitlines().count("woke-up") == 1, "only the second run finished its step"
