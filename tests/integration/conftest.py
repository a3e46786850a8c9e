"""Fixtures for fault tests: private service instances (see private_services.py) and a worker
pointed at them. Module-scoped: starting them costs seconds, and each fault test module stops and
restarts only its own instances."""
import pytest

from tests.conftest import ARTIFACTS, _database_url
from tests.integration.private_services import (
    PrivateRedis,
    PrivateRegistry,
    private_workdir,
    repointed_celery,
    start_worker,
    stop_worker,
)


@pytest.fixture(scope="module")
def private_broker(services):
    """A Redis of our own, and this process's Celery app sending to it."""
    broker = PrivateRedis(private_workdir("redis")).start()
    try:
        with repointed_celery(broker.url):
            yield broker
    finally:
        broker.remove()


@pytest.fixture(scope="module")
def private_registry(services):
    registry = PrivateRegistry(private_workdir("registry")).start()
    try:
        yield registry
    finally:
        registry.remove()


@pytest.fixture(scope="module")
def fault_worker_factory(private_broker, django_db_setup):
    """Start a worker on the private broker and the test database, with extra environment."""
    from django.db import connection

    started = []

    def start(name: str, concurrency: int = 1, beat: bool = False, queues: str = "builds,scans,default", **env):
        ARTIFACTS.mkdir(exist_ok=True)
        full_env = {"DATABASE_URL": _database_url(connection.settings_dict), "CELERY_BROKER_URL": private_broker.url,
                    **{key: str(value) for key, value in env.items()}}
        process, _ = start_worker(env=full_env, log_path=ARTIFACTS / f"worker-{name}.log", concurrency=concurrency,
                                  queues=queues, beat_schedule=private_broker.workdir / f"beat-{name}" if beat else None)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_worker(process)


@pytest.fixture(autouse=True)
def builds_leave_no_images(request):
    """After each test, every finished build of it has left none of its own step images on the engine
    (issue 15: no dangling or build-labelled image of a build that no live build owns). Asked of
    this test's builds only, by the ids in their logs: the engine is shared with other test runs.
    Tagged images (bases, the layer cache) and images with children (layers others build on) are
    the engine's to keep."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    yield
    import time

    from builds.models import Build
    from tests.integration.engine_leftovers import build_leftovers

    done = list(Build.objects.filter(status__in=Build.DONE))
    deadline = time.monotonic() + 15  # the worker cleans up just after it records the end
    while (left := {b.pk: ids for b in done if (ids := build_leftovers(b))}) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"finished builds left step images on the engine: {left}"
