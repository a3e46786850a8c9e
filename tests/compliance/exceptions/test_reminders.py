"""Reminders 14 and 3 days before an approved exception expires: sent to the requester, the
team's e-mail and webhook, each at most once however often (or however concurrently) the job runs."""
import datetime
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from compliance.exceptions.reminders import exception_reminders_send
from compliance.models import PolicyException
from compliance.tasks import remind_expiring_exceptions
from portal.models import AuditEvent
from tests.compliance.vulndb.test_reevaluation import webhook  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerted_team(team, webhook):  # noqa: F811
    team.webhook_url, team.alert_email = webhook[0], "payments@example.test"
    team.save()
    return team


def approved(team, requester, reviewer, *, expires_in_days, status="approved"):
    """An exception approved now (so every reminder stage is still ahead of it when far enough out)."""
    requester.email = "alice@example.test"
    requester.save()
    now = timezone.now()
    return PolicyException.objects.create(
        scope="team", team=team, target_kind="rule", target="non-root-user", reason="accepted_risk",
        justification="The entrypoint drops privileges itself before serving.", status=status,
        expires_at=now + datetime.timedelta(days=expires_in_days), requested_by=requester, decided_by=reviewer,
        decided_at=now)


def before_expiry(exception, days, hours=0):
    return exception.expires_at - datetime.timedelta(days=days, hours=hours)


def test_it_reminds_at_14_and_3_days_once_each(client, alerted_team, member, reviewer, webhook, mailoutbox):  # noqa: F811
    exception = approved(alerted_team, member, reviewer, expires_in_days=20)
    assert exception_reminders_send() == 0, "20 days left: nothing due"

    at_14 = before_expiry(exception, 13, 12)
    assert exception_reminders_send(now=at_14) == 1
    assert exception_reminders_send(now=at_14 + datetime.timedelta(hours=1)) == 0, "hourly runs send nothing new"
    [mail] = mailoutbox
    assert sorted(mail.to) == ["alice@example.test", "payments@example.test"]
    assert "expires in 14 days" in mail.subject and reverse("exception-detail", args=[exception.pk]) in mail.body
    [body] = webhook[1]
    assert body["event"] == "exception.expiring" and body["days_before_expiry"] == 14
    assert (body["exception"], body["team"], body["target"]) == (exception.pk, "payments", "non-root-user")

    at_3 = before_expiry(exception, 2)
    assert exception_reminders_send(now=at_3) == 1
    assert exception_reminders_send(now=at_3) == 0
    assert len(mailoutbox) == 2 and webhook[1][-1]["days_before_expiry"] == 3
    exception.refresh_from_db()
    assert exception.reminded_14d_at == at_14 and exception.reminded_3d_at == at_3
    events = AuditEvent.objects.filter(action="exception.reminder_sent", target_id=str(exception.pk)).order_by("created")
    assert [(e.data["days_before_expiry"], e.data["email"], e.data["webhook"]) for e in events] == [
        (14, "sent", "HTTP 204"), (3, "sent", "HTTP 204")]

    client.force_login(member)
    page = client.get(reverse("exception-detail", args=[exception.pk])).content.decode()
    assert "Reminder sent 14 days before expiry" in page and "Reminder sent 3 days before expiry" in page


def test_it_skips_stages_already_passed_at_approval_and_the_14_day_one_inside_3_days(
        alerted_team, member, reviewer, mailoutbox):
    short = approved(alerted_team, member, reviewer, expires_in_days=10)
    assert exception_reminders_send() == 0, "approved with 10 days left: no '14 days' reminder"
    assert exception_reminders_send(now=before_expiry(short, 2)) == 1
    short.refresh_from_db()
    assert short.reminded_14d_at is None and short.reminded_3d_at is not None
    assert "expires in 3 days" in mailoutbox[0].subject

    late = approved(alerted_team, member, reviewer, expires_in_days=30)
    assert exception_reminders_send(now=before_expiry(late, 1)) == 1, "job down for two weeks: only the 3-day one"
    late.refresh_from_db()
    assert late.reminded_14d_at is None and late.reminded_3d_at is not None


@pytest.mark.parametrize("status", ["pending", "awaiting_second", "revoked", "denied", "expired"])
def test_it_reminds_only_about_approved_exceptions(alerted_team, member, reviewer, mailoutbox, status):
    exception = approved(alerted_team, member, reviewer, expires_in_days=20, status=status)
    assert exception_reminders_send(now=before_expiry(exception, 2)) == 0 and not mailoutbox


def test_a_global_exception_reminds_its_requester_only(member, reviewer, mailoutbox, db):
    exception = approved(None, member, reviewer, expires_in_days=20)
    PolicyException.objects.filter(pk=exception.pk).update(scope="global")
    assert exception_reminders_send(now=before_expiry(exception, 2)) == 1
    assert mailoutbox[0].to == ["alice@example.test"]


def test_the_beat_schedule_runs_the_task_hourly(alerted_team, member, reviewer, mailoutbox):
    entry = settings.CELERY_BEAT_SCHEDULE["remind-expiring-exceptions"]
    assert entry == {"task": "compliance.tasks.remind_expiring_exceptions", "schedule": 3600}
    approved(alerted_team, member, reviewer, expires_in_days=2.5)
    PolicyException.objects.update(decided_at=timezone.now() - datetime.timedelta(days=5))
    assert remind_expiring_exceptions() == 1 and remind_expiring_exceptions() == 0


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_reminder_once(alerted_team, member, reviewer, webhook, mailoutbox):  # noqa: F811
    exceptions = [approved(alerted_team, member, reviewer, expires_in_days=20) for _ in range(5)]
    at_3 = before_expiry(exceptions[0], 2)
    start, counts = threading.Barrier(2), []

    def run():
        start.wait()
        try:
            counts.append(exception_reminders_send(now=at_3))
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 5 and len(mailoutbox) == 5 and len(webhook[1]) == 5
    assert AuditEvent.objects.filter(action="exception.reminder_sent").count() == 5
