"""One deadline for the whole build, not one per stage.

A composed recipe with a .paas/image-env.sh runs as two engine builds (stage one, then the
script stage with no network). Each stage here stays under the deadline on its own but the two
together do not: the watchdog must stop the build in the second stage, say so plainly, and
leave no build container behind.
"""
import docker
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from builds.models import Build
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, Component, ComponentVersion
from tests.builds.team_scripts.test_packages import targz
from tests.conftest import wait_for_build
from tests.integration.test_build_faults import full_log

DEADLINE = 14
STAGE_SLEEP = 9  # < DEADLINE per stage, > DEADLINE for two stages

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def worker_with_short_deadline(fault_worker_factory):
    return fault_worker_factory("deadline", concurrency=1, BUILD_DEADLINE_SECONDS=DEADLINE)


def test_the_deadline_covers_every_stage_of_a_build_together(starter_catalog, private_broker, worker_with_short_deadline,
                                                              team, member):
    sleeper = ComponentVersion.objects.create(
        component=Component.objects.create(slug="sleep-stage-one", name="Sleeper", kind="option"), version="1",
        os_families=["busybox"], fragment=f"RUN echo stage-one-sleeping && sleep {STAGE_SLEEP}")
    script = f"#!/bin/sh\nset -eu\necho stage-two-sleeping\nsleep {STAGE_SLEEP}\n".encode()
    recipe = recipe_save(user=member, team=team, name="slowpoke", base=BaseImage.objects.get(slug="busybox"),
                         choices=[(sleeper, {})],
                         artifact=SimpleUploadedFile("app.tar.gz", targz(("app-1.0/.paas/image-env.sh", script))))
    build = wait_for_build(build_request(user=member, recipe=recipe, no_cache=True), timeout=120)

    assert build.status == Build.Status.FAILED
    assert build.error_code == "build:user:deadline"
    assert build.error_message.startswith(
        f"The build passed its deadline of {DEADLINE} s (all its stages together) and was stopped.")
    assert "BUILD_DEADLINE_SECONDS" in build.error_message, "it says what to do"
    log = full_log(build)
    assert "stage-one-sleeping" in log and "stage-two-sleeping" in log, "stopped in the second stage, not the first"
    assert "image-env.sh" in build.failed_step, "the failing step is the script stage's"
    assert build.finished and (build.finished - build.started).total_seconds() < DEADLINE + 8
    leftovers = [c for c in docker.APIClient(version="auto").containers(all=True)
                 if c["Created"] >= build.started.timestamp() - 1
                 and ("sleep" in c["Command"] or "image-env.sh" in c["Command"])]
    assert not leftovers, "the stopped build container is removed"
