"""Thin Celery tasks: ids in, services do the work."""
from celery import shared_task

from django.conf import settings

from builds.pipeline import TeamAtCapacity, build_run
from builds.reaper import builds_reap


@shared_task(name="builds.tasks.run_build", ignore_result=True, bind=True, max_retries=None)
def run_build(self, build_id: int) -> None:
    try:
        build_run(build_id)
    except TeamAtCapacity:
        raise self.retry(countdown=settings.TEAM_CAPACITY_RETRY_SECONDS)


@shared_task(name="builds.tasks.reap_stuck_builds", ignore_result=True)
def reap_stuck_builds() -> dict:
    return builds_reap()
