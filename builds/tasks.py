"""Thin Celery tasks: ids in, the runner does the work; and how a build is sent to the workers."""
import logging

from celery import shared_task
from django.conf import settings

from builds.errors import TeamAtCapacity
from builds.runner.pipeline import build_run
from builds.runner.reaper import builds_reap
from portal.logcontext import build_log_context

log = logging.getLogger(__name__)


@shared_task(name="builds.tasks.run_build", ignore_result=True, bind=True, max_retries=None)
def run_build(self, build_id: int) -> None:
    try:
        with build_log_context(build_id):  # every log line of this run says which build it is about
            log.info("build task started")
            build_run(build_id)
            log.info("build task ended")
    except TeamAtCapacity:
        raise self.retry(countdown=settings.TEAM_CAPACITY_RETRY_SECONDS)


@shared_task(name="builds.tasks.reap_stuck_builds", ignore_result=True)
def reap_stuck_builds() -> dict:
    return builds_reap(dispatch=build_dispatch)


def build_queue(build_id: int) -> str:
    """Spread builds over the build queues; each queue is served by workers on one engine
    (DOCKER_HOST), so adding an engine is adding a queue name and a worker."""
    queues = settings.BUILD_QUEUES
    return queues[build_id % len(queues)]


def build_dispatch(build_id: int) -> None:
    run_build.apply_async(args=[build_id], queue=build_queue(build_id))
