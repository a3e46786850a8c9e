"""Thin Celery tasks: ids in, the runner does the work; and how a build is sent to the workers."""
import logging

from billiard.exceptions import WorkerLostError
from celery import shared_task
from celery.signals import task_failure, worker_ready, worker_shutdown
from django.conf import settings

from builds.errors import TeamAtCapacity
from builds.runner.engine_sweep import engine_sweep
from builds.runner.pipeline import build_run
from builds.runner.reaper import build_worker_lost, builds_reap
from builds.runner.registry_gc import registry_gc as registry_collect
from builds.runner.worker_beat import WorkerBeat
from portal.db_retry import connection_drop, db_retry
from portal.logcontext import build_log_context

log = logging.getLogger(__name__)


@shared_task(name="builds.tasks.run_build", ignore_result=True, bind=True, max_retries=None)
def run_build(self, build_id: int) -> None:
    try:
        with build_log_context(build_id):  # every log line of this run says which build it is about
            log.info("build task started")
            build_run(build_id, worker=self.request.hostname or "", dispatch=build_dispatch)
            log.info("build task ended")
    except TeamAtCapacity:
        raise self.retry(countdown=settings.TEAM_CAPACITY_RETRY_SECONDS)


@shared_task(name="builds.tasks.reap_stuck_builds", ignore_result=True)
def reap_stuck_builds() -> dict:
    return builds_reap(dispatch=build_dispatch)


WORKER = {"node": "", "beat": None}  # this worker's node name (name@host) and heartbeat, once it is ready


@worker_ready.connect
def worker_heartbeat_start(sender=None, **_):
    """`sender` is the worker's consumer: its node name and the queues it consumes."""
    WORKER["node"] = getattr(sender, "hostname", "") or ""
    if WORKER["node"] and WORKER["beat"] is None:
        WORKER["beat"] = WorkerBeat(sender).start()


@worker_shutdown.connect
def worker_heartbeat_stop(**_):
    if WORKER["beat"] is not None:
        WORKER["beat"].stop()
        WORKER["beat"] = None


@task_failure.connect(sender=run_build)
def run_build_worker_lost(sender=None, exception=None, args=None, **_):
    """Sent in the worker's main process when the pool process running a build died (kill -9, the
    kernel's OOM killer): the build is retried once now, not when its heartbeat goes stale.

    Messages are acknowledged when a build starts (no acks_late: with Redis, a build longer than
    the visibility timeout would be delivered twice), so Celery itself will not redeliver it;
    the database says what ran, and the reaper's rules decide."""
    if not (isinstance(exception, WorkerLostError) and args):
        return
    why = f"The worker process running this build died ({exception})"
    try:  # the main process keeps its connection between such rare calls: it may have died meanwhile
        connection_drop()
        db_retry(lambda: build_worker_lost(int(args[0]), dispatch=build_dispatch, worker=WORKER["node"], why=why), seconds=10)
    finally:
        connection_drop()


@shared_task(name="builds.tasks.sweep_engines", ignore_result=True)
def sweep_engines() -> None:
    """Beat's entry: one sweep per build queue, since each queue's workers use their own engine."""
    for queue in settings.BUILD_QUEUES:
        sweep_engine.apply_async(queue=queue)


@shared_task(name="builds.tasks.sweep_engine", ignore_result=True)
def sweep_engine() -> dict:
    return engine_sweep().counts()


@shared_task(name="builds.tasks.registry_gc", ignore_result=True)
def registry_gc() -> dict:
    """On the default queue: its workers run on the registry's host (REGISTRY_STORAGE_DIR)."""
    return registry_collect().counts()


def build_queue(build_id: int) -> str:
    """Spread builds over the build queues; each queue is served by workers on one engine
    (DOCKER_HOST), so adding an engine is adding a queue name and a worker."""
    queues = settings.BUILD_QUEUES
    return queues[build_id % len(queues)]


def build_dispatch(build_id: int) -> None:
    run_build.apply_async(args=[build_id], queue=build_queue(build_id))
