"""Housekeeping of the portal's own tables, scheduled by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""
from celery import shared_task

from portal.page_cache.versions import changes_fold


@shared_task(name="portal.tasks.fold_data_changes", ignore_result=True)
def fold_data_changes() -> int:
    """Keeps the data version cheap to read; safe to run late, often or twice at once."""
    return changes_fold()
