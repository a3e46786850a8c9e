"""Periodic upkeep of exceptions (its own module: compliance/tasks.py holds the scanner tasks)."""
from celery import shared_task

from compliance.exception_reminders import exception_reminders_send
from compliance.exceptions import exceptions_expire


@shared_task(name="compliance.tasks_exceptions.expire_exceptions", ignore_result=True)
def expire_exceptions() -> int:
    return exceptions_expire()


@shared_task(name="compliance.tasks_exceptions.remind_expiring_exceptions", ignore_result=True)
def remind_expiring_exceptions() -> int:
    """Hourly; safe to run often, late or twice at once (each reminder is claimed on its row)."""
    return exception_reminders_send()
