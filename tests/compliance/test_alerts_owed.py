"""An alert is owed from the moment its verdict flips (AlertOwed, written with the verdict): a
re-evaluation whose process died before sending its alerts leaves them for the scheduled pass,
which sends each once, after a grace that lets a live re-evaluation send its own."""
import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from compliance import tasks
from compliance.alerts import AlertBatch, alerts_owed_send
from compliance.models import AlertOwed
from compliance.vulndb.reevaluation import reevaluate_due
from compliance.vulndb.store import vulndb_import
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_store import osv, write

pytestmark = pytest.mark.django_db
CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def test_a_normal_run_sends_its_alert_and_owes_nothing(tmp_path, published, webhook):  # noqa: F811
    vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    assert reevaluate_due()["alerts"] == 1
    assert [body["event"] for body in webhook[1]] == ["image.noncompliant"]
    assert not AlertOwed.objects.exists()


def test_alerts_a_dead_process_did_not_send_are_sent_once_by_the_scheduled_pass(
        tmp_path, published, webhook, monkeypatch, mailoutbox):  # noqa: F811
    vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    monkeypatch.setattr(AlertBatch, "send", lambda self: 0)  # the process died before sending
    reevaluate_due()
    monkeypatch.undo()
    owed = AlertOwed.objects.get()
    assert owed.build_id == published.pk and not owed.verdict.passed and webhook[1] == []

    assert tasks.send_owed_alerts() == 0, "within the grace a live re-evaluation may still send it"
    AlertOwed.objects.update(created=timezone.now() - datetime.timedelta(seconds=settings.ALERT_OWED_GRACE_SECONDS + 1))
    assert tasks.send_owed_alerts() == 1
    assert webhook[1][0]["event"] == "image.noncompliant" and webhook[1][0]["verdict"] == owed.verdict_id
    assert mailoutbox[0].to == ["payments@example.test"]
    assert not AlertOwed.objects.exists() and tasks.send_owed_alerts() == 0
    assert len(webhook[1]) == 1


def test_an_alert_the_pass_sent_is_not_sent_again_by_its_batch(tmp_path, published, webhook):  # noqa: F811
    verdict = published.verdicts.get()
    batch = AlertBatch()
    batch.add(published, verdict)
    assert alerts_owed_send(older_than=datetime.timedelta(0)) == 1
    assert batch.send() == 0, "the row is gone: someone sent it"
    assert len(webhook[1]) == 1


def test_the_pass_runs_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["send-owed-alerts"]
    assert (entry["task"], entry["schedule"], entry["options"]["expires"]) == ("compliance.tasks.send_owed_alerts", 300, 300)
