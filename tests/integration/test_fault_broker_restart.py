"""Redis restarts while builds run and wait: every requested build still finishes, exactly once.

Redis here keeps nothing on disk, so a restart loses every queued message. The database is the
source of truth: the periodic reaper (run by the worker's own beat scheduler, as in production)
sends queued builds again, and the worker reconnects to the new Redis by itself.
"""
import pytest
import redis

from builds.models import Build
from builds.services import build_request
from tests.conftest import wait_for_build
from tests.integration.test_build_faults import full_log, sleeper_recipe, wait_for_log

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

REDISPATCH_SECONDS = 6  # what the worker's reaper treats as "this queued build's message may be lost"


@pytest.fixture(scope="module")
def worker_on_private_broker(fault_worker_factory):
    """One build at a time (so the others really wait in Redis), with the reaper every 2 s."""
    return fault_worker_factory("broker-restart", concurrency=1, beat=True, REAPER_INTERVAL_SECONDS=2,
                                BUILD_REDISPATCH_SECONDS=REDISPATCH_SECONDS)


def test_every_build_finishes_once_after_a_redis_restart(starter_catalog, private_broker, worker_on_private_broker,
                                                         team, member):
    running_recipe = sleeper_recipe(team, member, "long", 6)
    running = build_request(user=member, recipe=running_recipe, no_cache=True)
    wait_for_log(running, "started-sleeping-long")
    waiting = [build_request(user=member, recipe=sleeper_recipe(team, member, f"wait{i}", 0), no_cache=True)
               for i in range(3)]
    for build in waiting:
        build.refresh_from_db()
        assert build.status == Build.Status.QUEUED, "one worker slot: the others wait their turn in Redis"

    store = redis.Redis.from_url(private_broker.url)
    assert store.llen("builds") >= 1, "messages of waiting builds are in Redis, and only there"
    store.set("written-before-the-restart", "1")
    private_broker.stop()
    private_broker.start()  # same port, empty: every queued message is gone
    assert store.get("written-before-the-restart") is None, "the restart lost everything Redis held"
    running.refresh_from_db()
    assert running.status == Build.Status.RUNNING, "the build already running was not disturbed"

    for build in [running, *waiting]:
        wait_for_build(build, timeout=120)
        assert build.status == Build.Status.SUCCEEDED, f"build {build.pk}: {build.error_message}"
        assert build.attempts == 1, f"build {build.pk} was started {build.attempts} times"
        log = full_log(build).splitlines()
        assert sum(line.startswith("started-sleeping-") for line in log) == 1, "its step ran exactly once"
        assert "queued again" not in full_log(build), "no worker was presumed dead"
    assert worker_on_private_broker.poll() is None, "the same worker process reconnected and carried on"
    resent = [b for b in waiting if b.log_chunks.filter(step="reaper", text__contains="sent to the build workers again").exists()]
    assert resent, "the reaper re-sent the builds whose messages the restart lost"
    # The builds ran one after the other: never two at once on a one-slot worker, never one twice.
    spans = sorted((b.started, b.finished) for b in [running, *waiting])
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), spans
