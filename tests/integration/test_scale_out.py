"""Scale-out: builds spread over two build queues, each served by its own worker, and both take work."""
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from builds.models import Build
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, ComponentVersion
from tests.conftest import ARTIFACTS, ROOT, _database_url, wait_for_build

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def second_worker(celery_worker):
    """Another worker process that only serves the queue `builds-b` (as a worker on a second engine would)."""
    from django.db import connection

    from portal.celery import app

    name = f"builds-b-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    log = open(ARTIFACTS / "worker-b.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "builds-b", "--concurrency", "1",
         "--hostname", name, "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": _database_url(connection.settings_dict)},
        stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[name], timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the second worker did not start; see test-artifacts/worker-b.log", pytrace=False)
    yield process
    process.terminate()
    process.wait(timeout=30)
    log.close()


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_both_build_queues_take_work(starter_catalog, second_worker, team, member, settings):
    settings.BUILD_QUEUES = ["builds", "builds-b"]
    recipe = recipe_save(user=member, team=team, name="spread", base=BaseImage.objects.get(slug="busybox"),
                         choices=[(ComponentVersion.objects.get(component__slug="runtime-user"), {"uid": "10001"})])
    builds = [wait_for_build(build_request(user=member, recipe=recipe, no_cache=True)) for _ in range(2)]

    assert all(b.status == Build.Status.SUCCEEDED for b in builds), [b.error_message for b in builds]
    parents = {parent_of(int(b.worker.rsplit(":", 1)[1])) for b in builds}
    assert second_worker.pid in parents, "the builds-b worker ran one build"
    assert len(parents) == 2, "and the other worker ran the other"
