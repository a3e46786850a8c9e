"""A build's database writes outlive a PostgreSQL restart: retried, kept for later, or the build
retried once, never left "running"."""
from unittest import mock

import pytest
from django.db import OperationalError

from builds.logs import BuildLog, build_log_append
from builds.models import Build
from builds.runner import pipeline
from portal.db_retry import db_retry

pytestmark = pytest.mark.django_db(transaction=True)  # connections are dropped and reopened, as in a worker
CLOSED = OperationalError("the connection is closed")


def test_db_retry_tries_again_while_the_database_is_away_then_gives_up():
    calls, pauses = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise CLOSED
        return "written"
    assert db_retry(flaky, seconds=60, sleep=pauses.append) == "written" and pauses == [1, 1]
    with pytest.raises(OperationalError):
        db_retry(lambda: (_ for _ in ()).throw(CLOSED), seconds=0, sleep=pauses.append)


def test_log_lines_wait_for_the_database_in_order_and_are_written_once(undispatched):
    build = undispatched
    writer = BuildLog(build, step="build")
    writer.pending = ["one", "two"]
    with mock.patch("builds.logs.BuildLogChunk.objects.create", side_effect=CLOSED):
        writer.flush()  # the build goes on
        with pytest.raises(OperationalError):
            writer.flush(strict=True)
    assert writer.pending == ["one", "two"] and build.log_lines == 0, "nothing counted that was not written"
    writer.line("three")
    writer.flush()
    build.refresh_from_db()
    assert build.log_lines == 3 and "".join(build.log_chunks.values_list("text", flat=True)) == "one\ntwo\nthree\n"


def test_a_log_write_the_database_loses_halfway_leaves_no_trace(undispatched):
    build = undispatched
    with mock.patch("builds.logs.Build.objects.filter", side_effect=CLOSED):
        with pytest.raises(OperationalError):
            build_log_append(build=build, step="build", lines=["lost"])
    assert build.log_lines == 0 and not build.log_chunks.exists()


def test_a_step_that_loses_the_database_retries_the_build_once(undispatched, django_capture_on_commit_callbacks):
    build = undispatched
    def scan_meets_a_restart(build, log):
        raise OperationalError("terminating connection due to administrator command")
    dispatched = []
    steps = [(name, scan_meets_a_restart if name == "scan" else (lambda b, log: None)) for name, _ in pipeline.STEPS]
    with mock.patch.object(pipeline, "STEPS", steps), django_capture_on_commit_callbacks(execute=True):
        pipeline.build_run(build.pk, worker="w1@host", dispatch=dispatched.append)
    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED and build.attempts == 1 and dispatched == [build.pk]
    note = build.log_chunks.get(step="reaper").text
    assert "The database connection was lost during step scan (terminating connection" in note and "queued again" in note
