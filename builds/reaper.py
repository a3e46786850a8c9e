"""Keep builds from getting stuck: the database is the source of truth, not the broker.

A running build whose heartbeat stopped (its worker was killed, its host rebooted) is retried once
or failed with a clear reason; a queued build whose message may have been lost (a Redis restart)
is dispatched again. Dispatching twice is harmless: a worker only starts a build that is queued.
"""
import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builds.layers import build_layers_clean
from builds.models import Build, BuildLogChunk
from builds.services import build_dispatch, log_next_seq

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 2


def _note(build: Build, text: str) -> None:
    BuildLogChunk.objects.create(build=build, seq=log_next_seq(build), first_line=build.log_lines + 1, step="reaper", text=text + "\n")
    build.log_lines += 1


def build_reap(build: Build, now) -> str:
    """Retry or fail one build whose worker stopped answering; returns what was done."""
    silent = int((now - build.heartbeat).total_seconds()) if build.heartbeat else None
    if build.cancel_requested:
        build.status, build.error_code = Build.Status.CANCELLED, "build:user:cancelled"
        build.error_message = "The build was cancelled (its worker had stopped answering)."
    elif build.attempts < MAX_ATTEMPTS:
        _note(build, f"The worker stopped answering ({silent} s without a heartbeat); the build is queued again.")
        build.status, build.started, build.current_step = Build.Status.QUEUED, None, ""
        build.steps = {step: {"status": "pending"} for step in Build.STEPS}
        build.save(update_fields=["status", "started", "current_step", "steps", "log_lines"])
        transaction.on_commit(lambda: build_dispatch(build.pk))
        return "requeued"
    else:
        _note(build, f"The worker stopped answering ({silent} s without a heartbeat) on attempt {build.attempts}; giving up.")
        build.status, build.error_code = Build.Status.FAILED, "build:app:worker-lost"
        build.error_message = (f"The worker running this build stopped answering {build.attempts} times "
                               "(killed or its host restarted). Retry the build; if it keeps failing, tell the platform team.")
    build.finished = now
    build.save(update_fields=["status", "error_code", "error_message", "finished", "log_lines"])
    return build.status


def builds_reap(*, now=None) -> dict:
    """One pass of the reaper (a periodic task). Returns counts for the log and the tests."""
    now = now or timezone.now()
    stale = now - datetime.timedelta(seconds=settings.BUILD_STALE_SECONDS)
    counts = {"requeued": 0, "failed": 0, "cancelled": 0, "redispatched": 0}
    ended = []
    for build_id in Build.objects.filter(status=Build.Status.RUNNING, heartbeat__lt=stale).values_list("pk", flat=True):
        with transaction.atomic():
            build = Build.objects.select_for_update(skip_locked=True).filter(
                pk=build_id, status=Build.Status.RUNNING, heartbeat__lt=stale).first()
            if build is not None:
                counts[build_reap(build, now)] += 1
                ended.append(build)
    for build in ended:  # engine calls only after the rows are committed and unlocked
        build_layers_clean(build=build)
    lost = now - datetime.timedelta(seconds=settings.BUILD_REDISPATCH_SECONDS)
    for build_id in Build.objects.filter(status=Build.Status.QUEUED, created__lt=lost).values_list("pk", flat=True):
        build_dispatch(build_id)
        counts["redispatched"] += 1
    if any(counts.values()):
        log.warning("reaper: %s", counts)
    return counts
