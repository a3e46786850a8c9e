"""Every task Celery beat schedules exists under that name (a misspelt name is sent on schedule and
dropped by every worker, unnoticed), and the portal's own housekeeping does what it says."""
import pytest
from django.conf import settings
from django.db import connection

from portal.celery import app
from portal.page_cache.versions import data_version
from portal.tasks import fold_data_changes


def test_every_scheduled_task_is_a_registered_task():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "portal.tasks.fold_data_changes" in scheduled
    assert scheduled - set(app.tasks) == set()


@pytest.mark.django_db(transaction=True)
def test_folding_the_data_changes_as_beat_runs_it_keeps_the_version(team):
    for name in ("Payments 1", "Payments 2", "Payments 3"):
        team.name = name
        team.save()
    before = data_version()
    assert fold_data_changes.apply().get() >= 2
    assert data_version() == before
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM portal_datachange")
        assert cursor.fetchone()[0] == 1, "the newest stays: the version names it"
    team.name = "Payments again"
    team.save()
    assert data_version() != before
