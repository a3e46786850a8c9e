"""Liveness: workers' heartbeat rows, what a build's page and API say when no builder is there,
and the builders-and-queues panel of the security overview and the admin index."""
import datetime
from unittest import mock

import pytest
from django.utils import timezone

from builds.liveness import build_liveness, worker_heartbeat_remove, worker_heartbeat_write, workers_alive
from builds.models import Build, WorkerHeartbeat
from portal.models import GlobalRole
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db


def a_worker(node="w1@host", queues=("builds", "scans", "default"), active=(), seen_ago=0):
    row = worker_heartbeat_write(node=node, pid=42, queues=list(queues), concurrency=2, active_builds=list(active),
                                 started=timezone.now())
    if seen_ago:
        WorkerHeartbeat.objects.filter(pk=row.pk).update(last_seen=timezone.now() - datetime.timedelta(seconds=seen_ago))
    return row


def running(build, worker="w1@host", silent=0, attempts=1):
    Build.objects.filter(pk=build.pk).update(status=Build.Status.RUNNING, worker=f"{worker}:4242", attempts=attempts,
                                             started=timezone.now(), heartbeat=timezone.now() - datetime.timedelta(seconds=silent))
    build.refresh_from_db()
    return build


def test_a_worker_heartbeat_is_one_row_per_worker_kept_current(settings):
    a_worker(active=[3])
    a_worker(queues=["scans"], active=[])
    row = WorkerHeartbeat.objects.get()
    assert row.queues == ["scans"] and row.active_builds == [] and row.pid == 42
    assert list(workers_alive()) == [row]
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - datetime.timedelta(seconds=settings.WORKER_STALE_SECONDS + 1))
    assert not workers_alive().exists(), "a row not written for the stale window is a dead worker"
    worker_heartbeat_remove(node="w1@host")
    assert not WorkerHeartbeat.objects.exists()


def test_a_queued_build_says_no_builder_is_running_until_a_worker_takes_its_queue(build):
    assert build_liveness(build).message == "No builder is running: the build will start when one is back."
    a_worker(queues=["scans", "default"])
    assert build_liveness(build).state == "no-builder", "workers there, but none takes builds"
    a_worker(node="w2@host", seen_ago=60)
    assert build_liveness(build).state == "no-builder", "a worker gone silent does not count"
    a_worker(node="w3@host", queues=["builds"])
    assert build_liveness(build).state == "ok" and build_liveness(build).message == ""


def test_a_running_build_says_when_its_builder_stopped_answering(build, settings):
    a_worker(active=[build.pk])
    assert build_liveness(running(build)).state == "ok"
    lost = build_liveness(running(build, silent=40))
    assert lost.state == "builder-lost" and lost.silent_seconds >= 40
    assert lost.message.startswith("The builder running this build stopped answering 4")
    assert lost.message.endswith("s ago; it will be retried.")
    WorkerHeartbeat.objects.all().delete()  # the worker itself is gone: said at once, heartbeat or not
    assert build_liveness(running(build, silent=1)).state == "builder-lost"
    last = build_liveness(running(build, silent=1, attempts=2))
    assert "last attempt" in last.message
    Build.objects.filter(pk=build.pk).update(status=Build.Status.FAILED)
    build.refresh_from_db()
    assert build_liveness(build).state == "ok", "a finished build needs no builder"


def test_the_build_page_and_the_api_say_no_builder_is_running(client, build, member):
    client.force_login(member)
    page = client.get(f"/builds/{build.pk}")
    assert b"No builder is running: the build will start when one is back." in page.content
    api = client.get(f"/api/builds/{build.pk}/").json()
    assert api["liveness"] == {"state": "no-builder", "message": "No builder is running: the build will start when one is back.",
                               "silent_seconds": None}
    a_worker()
    assert b"No builder is running" not in client.get(f"/builds/{build.pk}").content
    assert client.get(f"/api/builds/{build.pk}/").json()["liveness"]["state"] == "ok"
    live = client.get(f"/builds/{build.pk}/live?after=-1")  # the poll re-renders the header with it
    running(build, worker="gone@host", silent=20)
    assert b"stopped answering" in client.get(f"/builds/{build.pk}/live?after=-1").content and live.status_code == 200


def test_the_security_overview_shows_reviewers_builders_and_queues(client, build, reviewer, member):
    a_worker(active=[build.pk])
    a_worker(node="w2@host", queues=["scans"], seen_ago=600)  # dead: not listed
    client.force_login(reviewer)
    with mock.patch("builds.liveness.broker_queue_depths", return_value={"builds": 3, "scans": 0, "default": 1}):
        page = client.get("/security").content.decode()
    assert "Builders and queues" in page and "1 worker alive" in page and "w2@host" not in page
    assert "<code>builds</code></td>\n      <td>3</td>" in page
    assert f"(build #{build.pk})" in page, "the oldest queued build and how long it waits"
    client.force_login(member)
    assert "Builders and queues" not in client.get("/security").content.decode(), "for reviewers and admins"


def test_the_panel_says_when_no_worker_runs_and_when_the_broker_does_not_answer(client, build):
    admin = with_role(UserFactory(username="ada"), GlobalRole.Kind.PLATFORM_ADMIN)
    client.force_login(admin)
    with mock.patch("builds.liveness.broker_queue_depths", side_effect=OSError("Connection refused")):
        page = client.get("/admin/").content.decode()
    assert "Builders and queues" in page
    assert "No worker is running." in page and "1 now" in page
    assert "The broker does not answer:</strong> Connection refused" in page
    assert "? unknown" in page


def test_a_worker_beat_survives_an_error_that_is_not_a_database_error(monkeypatch):
    """InterfaceError ('connection already closed') is not a DatabaseError: had it escaped, the beat
    thread would have died and its healthy worker read as lost once the row went stale."""
    from types import SimpleNamespace

    from django.db import InterfaceError

    from builds.runner import worker_beat

    calls = []

    def flaky_write(**row):
        calls.append(row["node"])
        if len(calls) == 1:
            raise InterfaceError("connection already closed")
        return worker_heartbeat_write(**row)

    monkeypatch.setattr(worker_beat, "worker_heartbeat_write", flaky_write)
    beat = worker_beat.WorkerBeat(SimpleNamespace(hostname="w9@host", task_consumer=None, pool=None), interval=60)
    beat.beat()  # raised inside, logged, not out
    beat.beat()
    assert calls == ["w9@host", "w9@host"]
    assert list(workers_alive().values_list("node", flat=True)) == ["w9@host"]


def test_a_build_heartbeat_survives_an_error_that_is_not_a_database_error(build, monkeypatch):
    from django.db import InterfaceError
    from django.db.models import QuerySet

    from builds.runner.heartbeat import heartbeat_write

    def closed(*_, **__):
        raise InterfaceError("connection already closed")

    monkeypatch.setattr(QuerySet, "update", closed)
    assert heartbeat_write(build.pk) is False, "said not written, and the thread's loop goes on"
