"""Thin Celery tasks: ids in, services do the work."""
from celery import shared_task

from builds.pipeline import build_run
from builds.reaper import builds_reap


@shared_task(name="builds.tasks.run_build", ignore_result=True)
def run_build(build_id: int) -> None:
    build_run(build_id)


@shared_task(name="builds.tasks.reap_stuck_builds", ignore_result=True)
def reap_stuck_builds() -> dict:
    return builds_reap()
