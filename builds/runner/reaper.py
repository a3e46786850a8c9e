"""Keep builds from getting stuck: the database is the source of truth, not the broker.

A running build whose heartbeat stopped (its worker was killed, its host rebooted) is retried once
or failed with a clear reason; a queued build whose message may have been lost (a Redis restart)
is dispatched again. Dispatching twice is harmless: a worker only starts a build that is queued.
"""
import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone

from adapters.factory import registry_client
from adapters.registry import RegistryError
from builds.logs import log_next_seq
from builds.models import Build, BuildLogChunk, ReaperPass
from builds.runner.layers import build_layers_clean

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 2


def _note(build: Build, text: str) -> None:
    BuildLogChunk.objects.create(build=build, seq=log_next_seq(build), first_line=build.log_lines + 1, step="reaper", text=text + "\n")
    build.log_lines += 1


def build_reap(build: Build, now, dispatch, why: str = "") -> str:
    """Retry or fail one build whose worker stopped answering (or died: `why` says how);
    returns what was done."""
    silent = int((now - build.heartbeat).total_seconds()) if build.heartbeat else None
    why = why or f"The worker stopped answering ({silent} s without a heartbeat)"
    if build.cancel_requested:
        build.status, build.error_code = Build.Status.CANCELLED, "build:user:cancelled"
        build.error_message = "The build was cancelled (its worker had stopped answering)."
    elif build.attempts < MAX_ATTEMPTS:
        _note(build, f"{why}; the build is queued again.")
        build.status, build.started, build.current_step = Build.Status.QUEUED, None, ""
        build.heartbeat = now  # queued builds: the time it was last sent to the broker (see below)
        build.steps = {step: {"status": "pending"} for step in Build.STEPS}
        build.save(update_fields=["status", "started", "current_step", "steps", "heartbeat", "log_lines"])
        transaction.on_commit(lambda: dispatch(build.pk))
        return "requeued"
    else:
        _note(build, f"{why} on attempt {build.attempts}; giving up.")
        build.status, build.error_code = Build.Status.FAILED, "build:app:worker-lost"
        build.error_message = (f"The worker running this build stopped answering {build.attempts} times "
                               "(killed or its host restarted). Retry the build; if it keeps failing, tell the platform team.")
    build.finished = now
    build.save(update_fields=["status", "error_code", "error_message", "finished", "log_lines"])
    return build.status


def build_worker_lost(build_id: int, *, dispatch, why: str, worker: str = "") -> str:
    """The worker's main process saw the pool process running this build die (kill -9, out of
    memory): retry it once (or fail it) now, rather than after the heartbeat goes stale.

    `worker` is the node name of the worker reporting it: a build that another worker has started
    meanwhile (it was requeued and taken) is not this worker's to judge. Returns what was done."""
    with transaction.atomic():
        build = Build.objects.select_for_update().filter(pk=build_id, status=Build.Status.RUNNING).first()
        if build is None or (worker and build.worker.rpartition(":")[0] != worker):
            return "nothing"
        done = build_reap(build, timezone.now(), dispatch, why=why)
    build_layers_clean(build=build)
    log.warning("build %s: %s; %s", build_id, why, done)
    return done


def build_redispatch(build: Build, now, dispatch) -> None:
    """Send a queued build to the broker again: its message may have vanished (a Redis restart
    loses everything Redis held). A duplicate is harmless: only a queued build is started."""
    waited = int((now - build.created).total_seconds())
    _note(build, f"Still queued after {waited} s; sent to the build workers again (its message may have been lost).")
    build.heartbeat = now
    build.save(update_fields=["heartbeat", "log_lines"])
    # Sent inside the transaction: if the broker is still down the note and heartbeat roll back and
    # the next pass tries again. A worker taking the message meanwhile waits for this row's lock.
    dispatch(build.pk)


def build_redispatch_due(build_id: int, now, lost, dispatch) -> bool:
    """Send one queued build again if it is still due: the conditions are read again under the
    row's lock, so two reaper passes at once (beat may start one while another still runs) send
    it once."""
    with transaction.atomic():
        build = Build.objects.select_for_update(skip_locked=True).annotate(last_sent=Coalesce("heartbeat", "created")).filter(
            pk=build_id, status=Build.Status.QUEUED, last_sent__lt=lost).first()
        if build is None:
            return False
        build_redispatch(build, now, dispatch)
        return True


def registry_answers() -> bool:
    try:
        registry_client("builder").ping()
        return True
    except RegistryError:
        return False


def build_registry_retry(build: Build, now, dispatch) -> None:
    """Queue again a build that failed only because the registry could not be reached; once."""
    _note(build, f"The registry answers again; this build failed only because it could not reach it "
                 f"({build.error_code}), so it is queued again (once).")
    build.status, build.auto_retried, build.heartbeat = Build.Status.QUEUED, True, now
    build.started = build.finished = None
    build.error_code = build.error_message = build.failed_step = build.current_step = ""
    build.steps = {step: {"status": "pending"} for step in Build.STEPS}
    build.save(update_fields=["status", "auto_retried", "heartbeat", "started", "finished", "error_code", "error_message",
                              "failed_step", "current_step", "steps", "log_lines"])
    transaction.on_commit(lambda: dispatch(build.pk))


def builds_registry_retry(*, dispatch, now, answers=registry_answers) -> int:
    """Builds that failed only because the registry was unreachable, retried once it answers:
    each once, if it failed within REGISTRY_AUTO_RETRY_MAX_AGE_SECONDS and nobody requested a newer
    build of its recipe meanwhile (which would make this one moot). The registry is asked only
    when there is such a build."""
    since = now - datetime.timedelta(seconds=settings.REGISTRY_AUTO_RETRY_MAX_AGE_SECONDS)
    newer = Build.objects.filter(recipe=OuterRef("recipe"), pk__gt=OuterRef("pk"))
    due = Build.objects.filter(status=Build.Status.FAILED, error_code__in=Build.REGISTRY_UNREACHABLE, auto_retried=False,
                               finished__gte=since).exclude(Exists(newer))
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:100])
    if not ids or not answers():
        return 0
    retried = 0
    for build_id in ids:
        with transaction.atomic():
            build = due.select_for_update(skip_locked=True).filter(pk=build_id).first()
            if build is not None:
                build_registry_retry(build, now, dispatch)
                retried += 1
    return retried


def reaper_pass_record(now) -> bool:
    """Record this pass; False when the previous one is so long ago that running builds' silent
    heartbeats prove nothing yet. After a PostgreSQL outage longer than the stale window every
    heartbeat is old, the live builds' included: their next beats come within
    BUILD_HEARTBEAT_SECONDS of the database's return, so a pass right then must not retry them
    (the build would run twice). The next pass, one interval later, judges again."""
    trust_gap = datetime.timedelta(seconds=settings.BUILD_STALE_SECONDS - 2 * settings.BUILD_HEARTBEAT_SECONDS)
    with transaction.atomic():
        state = ReaperPass.objects.select_for_update().filter(pk=1).first()
        if state is None:  # the first pass ever: nothing to compare with
            ReaperPass.objects.get_or_create(pk=1, defaults={"last_pass": now})
            return True
        previous = state.last_pass
        trusted = now - previous <= trust_gap
        if now > previous:
            state.last_pass = now
            state.save(update_fields=["last_pass"])
    if not trusted:
        log.warning("reaper: no pass since %s; running builds are judged from the next pass on", previous)
    return trusted


def builds_reap(*, dispatch, now=None, registry_answers=registry_answers) -> dict:
    """One pass of the reaper (a periodic task); `dispatch(build_id)` sends a build to the workers.
    Returns counts for the log and the tests."""
    now = now or timezone.now()
    stale = now - datetime.timedelta(seconds=settings.BUILD_STALE_SECONDS)
    counts = {"requeued": 0, "failed": 0, "cancelled": 0, "redispatched": 0, "dispatch_failed": 0, "registry_retried": 0}
    ended = []
    trusted = reaper_pass_record(now)
    running = Build.objects.filter(status=Build.Status.RUNNING, heartbeat__lt=stale) if trusted else Build.objects.none()
    for build_id in running.values_list("pk", flat=True):
        with transaction.atomic():
            # Conditions checked again under the lock: another reaper (beat may run several passes
            # at once after a pause) may have just handled this build.
            build = Build.objects.select_for_update(skip_locked=True).filter(
                pk=build_id, status=Build.Status.RUNNING, heartbeat__lt=stale).first()
            if build is not None:
                counts[build_reap(build, now, dispatch)] += 1
                ended.append(build)
    for build in ended:  # engine calls only after the rows are committed and unlocked
        build_layers_clean(build=build)
    lost = now - datetime.timedelta(seconds=settings.BUILD_REDISPATCH_SECONDS)
    # A queued build's heartbeat is the last time it was sent to the broker (null: only when it was
    # requested), so a build that simply waits its turn gets one more message per window, not one
    # per reaper pass.
    waiting = Build.objects.annotate(last_sent=Coalesce("heartbeat", "created")).filter(
        status=Build.Status.QUEUED, last_sent__lt=lost)
    for build_id in waiting.values_list("pk", flat=True):
        try:
            counts["redispatched"] += build_redispatch_due(build_id, now, lost, dispatch)
        except Exception as error:  # the broker is down: the build stays queued for the next pass
            log.warning("reaper: could not send build %s again: %s", build_id, error)
            counts["dispatch_failed"] += 1
    try:
        counts["registry_retried"] = builds_registry_retry(dispatch=dispatch, now=now, answers=registry_answers)
    except Exception as error:  # the broker is down: the builds stay failed-and-due for the next pass
        log.warning("reaper: could not queue registry-failed builds again: %s", error)
    if any(counts.values()):
        log.warning("reaper: %s", counts)
    return counts
