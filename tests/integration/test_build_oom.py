"""A build step that runs out of memory says so, with the limit and the step (not only "returned a
non-zero code: 137")."""
import uuid

import pytest

from builds.models import Build
from tests.integration.test_build_sharing import busybox_build, full_log

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_step_killed_for_memory_says_out_of_memory_with_the_limit_and_the_step(starter_catalog, team, member, settings):
    settings.BUILD_MEMORY_BYTES = 48 * 1024 * 1024
    token = uuid.uuid4().hex[:8]
    # busybox dd allocates (and fills) one 200 MiB block: far over the limit.
    build = busybox_build(team, member, f"oom-{token}", f"RUN echo {token} && dd if=/dev/zero of=/dev/null bs=200M count=1")

    assert build.status == Build.Status.FAILED
    assert build.error_code == "build:user:out-of-memory"
    assert build.error_message.startswith("Out of memory (limit 48 MiB) in Step 2/"), build.error_message
    assert f"RUN echo {token} && dd" in build.error_message, "the message names the step"
    assert "BUILD_MEMORY_BYTES" in build.error_message, "it says which setting a platform admin raises"
    assert f"echo {token} && dd" in build.failed_step
    assert "returned a non-zero code: 137" in full_log(build), "the engine's own words stay in the log"


def test_a_step_failing_for_another_reason_is_not_called_out_of_memory(starter_catalog, team, member, settings):
    settings.BUILD_MEMORY_BYTES = 48 * 1024 * 1024
    build = busybox_build(team, member, f"fails-{uuid.uuid4().hex[:8]}", "RUN exit 3")

    assert build.status == Build.Status.FAILED
    assert build.error_code == "build:user:step-failed"
    assert "returned a non-zero code: 3" in build.error_message
