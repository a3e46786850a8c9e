"""Periodic upkeep of exceptions (its own module: compliance/tasks.py holds the scanner tasks)."""
from celery import shared_task

from compliance.exceptions import exceptions_expire


@shared_task(name="compliance.tasks_exceptions.expire_exceptions", ignore_result=True)
def expire_exceptions() -> int:
    return exceptions_expire()
