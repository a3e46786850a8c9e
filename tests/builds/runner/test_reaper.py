"""The reaper: builds whose worker vanished are retried once then failed; lost queue messages re-sent."""
import datetime
from unittest import mock

import pytest
from django.utils import timezone

from builds.models import Build
from builds.runner.pipeline import build_run
from builds.runner.reaper import builds_reap
from builds.services import build_cancel
from builds.tasks import build_dispatch

pytestmark = pytest.mark.django_db
LONG_AGO = timezone.now() - datetime.timedelta(hours=1)


def running(build, attempts=1, heartbeat=LONG_AGO, **extra):  # noqa: F811
    Build.objects.filter(pk=build.pk).update(status=Build.Status.RUNNING, attempts=attempts, heartbeat=heartbeat, **extra)
    build.refresh_from_db()
    return build


def test_it_requeues_a_build_whose_worker_stopped_answering(build):  # noqa: F811
    running(build, attempts=1)
    assert builds_reap(dispatch=build_dispatch)["requeued"] == 1
    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED
    assert build.steps["build"] == {"status": "pending"}
    assert "queued again" in build.log_chunks.get(step="reaper").text


def test_it_fails_with_a_clear_reason_on_the_second_loss(build):  # noqa: F811
    running(build, attempts=2)
    assert builds_reap(dispatch=build_dispatch)["failed"] == 1
    build.refresh_from_db()
    assert build.status == Build.Status.FAILED
    assert build.error_code == "build:app:worker-lost"
    assert "stopped answering 2 times" in build.error_message


def test_it_leaves_builds_with_a_fresh_heartbeat_alone(build):  # noqa: F811
    running(build, heartbeat=timezone.now())
    assert builds_reap(dispatch=build_dispatch) == {"requeued": 0, "failed": 0, "cancelled": 0, "redispatched": 0,
                                                    "dispatch_failed": 0, "registry_retried": 0}


def test_it_finishes_a_cancel_whose_worker_is_gone(build):  # noqa: F811
    running(build, cancel_requested=True)
    assert builds_reap(dispatch=build_dispatch)["cancelled"] == 1
    build.refresh_from_db()
    assert build.status == Build.Status.CANCELLED


def test_it_dispatches_old_queued_builds_again(build):  # noqa: F811
    Build.objects.filter(pk=build.pk).update(created=LONG_AGO)
    with mock.patch("builds.tasks.run_build.apply_async") as dispatch:
        assert builds_reap(dispatch=build_dispatch)["redispatched"] == 1
    dispatch.assert_called_once_with(args=[build.pk], queue="builds")


def test_it_sends_a_waiting_build_again_once_per_window_not_once_per_pass(build, settings):  # noqa: F811
    Build.objects.filter(pk=build.pk).update(created=LONG_AGO)
    with mock.patch("builds.tasks.run_build.apply_async") as dispatch:
        assert builds_reap(dispatch=build_dispatch)["redispatched"] == 1
        assert builds_reap(dispatch=build_dispatch)["redispatched"] == 0, "sent a moment ago: not again yet"
        later = timezone.now() + datetime.timedelta(seconds=settings.BUILD_REDISPATCH_SECONDS + 1)
        assert builds_reap(dispatch=build_dispatch, now=later)["redispatched"] == 1
    assert dispatch.call_count == 2
    notes = list(build.log_chunks.filter(step="reaper").values_list("text", flat=True))
    assert len(notes) == 2 and all("sent to the build workers again" in note for note in notes)


def test_it_keeps_a_build_queued_for_the_next_pass_while_the_broker_is_down(build):  # noqa: F811
    from kombu.exceptions import OperationalError

    Build.objects.filter(pk=build.pk).update(created=LONG_AGO)
    with mock.patch("builds.tasks.run_build.apply_async", side_effect=OperationalError("Connection refused")):
        counts = builds_reap(dispatch=build_dispatch)
    assert counts["redispatched"] == 0 and counts["dispatch_failed"] == 1
    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED and build.heartbeat is None, "rolled back: due again next pass"
    assert not build.log_chunks.exists(), "no note claims a message that was never sent"
    with mock.patch("builds.tasks.run_build.apply_async") as dispatch:
        assert builds_reap(dispatch=build_dispatch)["redispatched"] == 1
    dispatch.assert_called_once()


def test_it_cancels_a_queued_build_at_once_and_the_worker_then_ignores_it(build, member):  # noqa: F811
    build_cancel(user=member, build=build)
    build.refresh_from_db()
    assert build.status == Build.Status.CANCELLED and build.finished is not None
    build_run(build.pk)  # a message still in the queue
    build.refresh_from_db()
    assert build.status == Build.Status.CANCELLED and build.attempts == 0


def test_it_lets_only_the_team_cancel(client, build, outsider, reviewer):  # noqa: F811
    from django.urls import reverse

    for user in (outsider, reviewer):
        client.force_login(user)
        assert client.post(reverse("build-cancel", args=[build.pk])).status_code in (403, 404)
    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED


def test_it_keeps_a_team_within_its_running_build_limit(recipe, member, settings):  # noqa: F811
    from builds.errors import TeamAtCapacity
    from builds.runner.pipeline import build_start
    from builds.services import build_request

    settings.TEAM_MAX_RUNNING_BUILDS = 2
    first, second, third = (build_request(user=member, recipe=recipe) for _ in range(3))
    assert build_start(first.pk) and build_start(second.pk)
    with pytest.raises(TeamAtCapacity):
        build_start(third.pk)
    third.refresh_from_db()
    assert third.status == Build.Status.QUEUED, "it waits in the queue, nothing is lost"
    Build.objects.filter(pk=first.pk).update(status=Build.Status.SUCCEEDED)
    assert build_start(third.pk).status == Build.Status.RUNNING


def test_it_retries_at_once_a_build_whose_pool_process_died(build, django_capture_on_commit_callbacks):  # noqa: F811
    running(build, attempts=1, heartbeat=timezone.now(), worker="w1@host:4242")
    with mock.patch("builds.tasks.run_build.apply_async") as dispatch, django_capture_on_commit_callbacks(execute=True):
        from builds.runner.reaper import build_worker_lost

        done = build_worker_lost(build.pk, dispatch=build_dispatch, worker="w1@host",
                                 why="The worker process running this build died (signal 9 (SIGKILL))")
    assert done == "requeued"
    dispatch.assert_called_once_with(args=[build.pk], queue="builds")
    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED, "no waiting for the heartbeat to go stale"
    assert "died (signal 9 (SIGKILL)); the build is queued again" in build.log_chunks.get(step="reaper").text


def test_a_worker_lost_report_fails_a_build_on_its_second_loss_and_ignores_other_workers_builds(build):  # noqa: F811
    from builds.runner.reaper import build_worker_lost

    running(build, attempts=1, heartbeat=timezone.now(), worker="w2@host:1")
    assert build_worker_lost(build.pk, dispatch=build_dispatch, worker="w1@host", why="died") == "nothing"
    running(build, attempts=2, heartbeat=timezone.now(), worker="w1@host:1")
    assert build_worker_lost(build.pk, dispatch=build_dispatch, worker="w1@host", why="died") == Build.Status.FAILED
    build.refresh_from_db()
    assert build.error_code == "build:app:worker-lost" and build.finished is not None


def test_the_task_failure_signal_of_a_lost_pool_process_retries_the_build(build):  # noqa: F811
    from billiard.exceptions import WorkerLostError

    from builds.tasks import run_build, run_build_worker_lost

    running(build, heartbeat=timezone.now())
    with mock.patch("builds.tasks.run_build.apply_async"):
        run_build_worker_lost(sender=run_build, exception=WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL)."),
                              args=[build.pk])
        run_build_worker_lost(sender=run_build, exception=ValueError("a plain failure"), args=[build.pk])
    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED


def test_its_defaults_notice_a_dead_worker_and_a_lost_message_within_a_minute(settings):
    assert settings.BUILD_HEARTBEAT_SECONDS * 3 <= settings.BUILD_STALE_SECONDS
    assert settings.BUILD_STALE_SECONDS + settings.REAPER_INTERVAL_SECONDS < 60
    assert settings.BUILD_REDISPATCH_SECONDS + settings.REAPER_INTERVAL_SECONDS <= 60
    entry = settings.CELERY_BEAT_SCHEDULE["reap-stuck-builds"]
    assert entry["schedule"] == settings.REAPER_INTERVAL_SECONDS and entry["options"]["expires"] > 0


def test_two_reapers_at_once_send_a_queued_build_once(build):  # noqa: F811
    """Beat may start a pass while another still runs: both listed the build, the second re-reads
    it under its lock and finds it sent a moment ago."""
    from builds.runner.reaper import build_redispatch_due

    Build.objects.filter(pk=build.pk).update(created=LONG_AGO)
    now = timezone.now()
    lost = now - datetime.timedelta(seconds=30)
    with mock.patch("builds.tasks.run_build.apply_async") as dispatch:
        assert build_redispatch_due(build.pk, now, lost, build_dispatch) is True
        assert build_redispatch_due(build.pk, now, lost, build_dispatch) is False
    dispatch.assert_called_once()


@pytest.mark.django_db(transaction=True)
def test_a_running_build_beats_its_heart_while_its_step_prints_nothing(undispatched, settings):
    build = undispatched
    import time

    from builds.runner.heartbeat import BuildHeartbeat

    running(build, heartbeat=LONG_AGO)
    with BuildHeartbeat(build.pk, interval=0.2):
        time.sleep(1)  # a silent step
    build.refresh_from_db()
    assert (timezone.now() - build.heartbeat).total_seconds() < 2


def registry_failed(build, code="build:app:registry-unreachable", finished=None, **extra):
    Build.objects.filter(pk=build.pk).update(status=Build.Status.FAILED, error_code=code, attempts=1,
                                             error_message="registry unreachable (127.0.0.1:5000): ...",
                                             finished=finished or timezone.now(), started=timezone.now(), **extra)
    build.refresh_from_db()
    return build


def test_a_build_failed_by_an_unreachable_registry_is_queued_again_once_when_it_answers(
        build, django_capture_on_commit_callbacks):  # noqa: F811
    registry_failed(build)
    with mock.patch("builds.tasks.run_build.apply_async") as dispatch, django_capture_on_commit_callbacks(execute=True):
        assert builds_reap(dispatch=build_dispatch, registry_answers=lambda: False)["registry_retried"] == 0
        build.refresh_from_db()
        assert build.status == Build.Status.FAILED, "not while the registry is still away"
        assert builds_reap(dispatch=build_dispatch, registry_answers=lambda: True)["registry_retried"] == 1
    dispatch.assert_called_once_with(args=[build.pk], queue="builds")
    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED and build.auto_retried and build.error_code == "" and build.finished is None
    assert build.steps["push"] == {"status": "pending"}
    assert "The registry answers again" in build.log_chunks.get(step="reaper").text
    registry_failed(build)  # failed by the registry again: the retry was its one
    with mock.patch("builds.tasks.run_build.apply_async") as dispatch:
        assert builds_reap(dispatch=build_dispatch, registry_answers=lambda: True)["registry_retried"] == 0
    dispatch.assert_not_called()


def test_only_recent_registry_failures_of_a_recipe_s_latest_build_are_retried(build, member, settings):  # noqa: F811
    from builds.services import build_request

    asked = []

    def answers():
        asked.append(1)
        return True
    registry_failed(build, code="build:user:step-failed")
    assert builds_reap(dispatch=build_dispatch, registry_answers=answers)["registry_retried"] == 0
    assert not asked, "no registry call when nothing is due"
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.REGISTRY_AUTO_RETRY_MAX_AGE_SECONDS + 60)
    registry_failed(build, finished=long_ago)
    assert builds_reap(dispatch=build_dispatch, registry_answers=answers)["registry_retried"] == 0
    registry_failed(build, code="publish:app:registry-unreachable")
    with mock.patch("builds.tasks.run_build.apply_async"):
        newer = build_request(user=member, recipe=build.recipe)
        Build.objects.filter(pk=newer.pk).update(status=Build.Status.SUCCEEDED)
        assert builds_reap(dispatch=build_dispatch, registry_answers=answers)["registry_retried"] == 0, \
            "a newer build of the recipe was requested meanwhile"


def test_after_a_gap_in_its_passes_the_reaper_waits_one_pass_before_judging_running_builds(build, settings):  # noqa: F811
    """A PostgreSQL outage longer than the stale window leaves every heartbeat old, live builds'
    too: right after it, silence proves nothing; one interval later it does."""
    start = timezone.now()
    assert builds_reap(dispatch=build_dispatch, now=start)["requeued"] == 0  # the first pass ever
    outage_over = start + datetime.timedelta(seconds=settings.BUILD_STALE_SECONDS + 60)
    Build.objects.filter(pk=build.pk).update(status=Build.Status.RUNNING, attempts=1, heartbeat=start)
    with mock.patch("builds.tasks.run_build.apply_async"):
        assert builds_reap(dispatch=build_dispatch, now=outage_over)["requeued"] == 0, "no pass for 90 s: not judged yet"
        build.refresh_from_db()
        assert build.status == Build.Status.RUNNING
        next_pass = outage_over + datetime.timedelta(seconds=settings.REAPER_INTERVAL_SECONDS)
        assert builds_reap(dispatch=build_dispatch, now=next_pass)["requeued"] == 1, "still silent a pass later: dead"
