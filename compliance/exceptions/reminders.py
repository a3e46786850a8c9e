"""Reminders before an approved exception expires: 14 and 3 days before, to the requester and
the team (its alert e-mail and webhook).

Each reminder is sent at most once per exception, however often or however many times at once
the periodic task runs: it is claimed first with one conditional UPDATE on the exception's row
(`reminded_14d_at IS NULL` -> now), and only the run whose UPDATE changed the row sends it. A
run that dies between the claim and the send loses that reminder rather than sending it twice;
the audit log says what each send did.

A stage whose moment had already passed when the exception was approved is skipped (an
exception approved for ten days gets no "14 days left" the same day), and the 14-day reminder
is not sent once fewer than 3 days remain: the 3-day one says more.
"""
import datetime

from django.conf import settings
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from compliance.alerts import email_send, webhook_send
from compliance.models import PolicyException
from portal.audit import audit_record

# (days before expiry, field claimed), most urgent first so one run sends the right stage.
STAGES = ((3, "reminded_3d_at"), (14, "reminded_14d_at"))


def reminder_body(exception: PolicyException, days: int) -> dict:
    return {
        "event": "exception.expiring",
        "exception": exception.pk,
        "days_before_expiry": days,
        "expires_at": exception.expires_at.isoformat(),
        "team": exception.team.slug if exception.team else None,
        "scope": exception.scope,
        "target_kind": exception.target_kind,
        "target": exception.target,
        "url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("exception-detail", args=[exception.pk]),
        "note": "When it expires the findings it waives count again. Fix them, or request a renewal in time.",
    }


def _due(days: int, field: str, now: datetime.datetime):
    window = datetime.timedelta(days=days)
    due = PolicyException.objects.filter(
        status=PolicyException.Status.APPROVED, expires_at__gt=now, expires_at__lte=now + window,
        decided_at__lt=F("expires_at") - window, **{f"{field}__isnull": True})
    if days == 14:
        due = due.filter(expires_at__gt=now + datetime.timedelta(days=3))
    return due.select_related("team", "requested_by").order_by("pk")


def _send(exception: PolicyException, days: int) -> dict:
    body = reminder_body(exception, days)
    outcome = {}
    recipients = sorted({a for a in (exception.requested_by.email, exception.team and exception.team.alert_email) if a})
    if recipients:
        subject = f"[image portal] Exception {exception.pk} for {exception.target} expires in {days} days"
        text = (f"Exception {exception.pk} ({exception.get_target_kind_display()}: {exception.target}, "
                f"{exception.get_scope_display()}) expires on {exception.expires_at:%Y-%m-%d %H:%M} UTC.\n\n"
                f"{body['note']}\n\n{body['url']}\n")
        outcome["email"] = email_send(subject, text, recipients)
        outcome["recipients"] = recipients
    if exception.team and exception.team.webhook_url:
        outcome["webhook"] = webhook_send(exception.team.webhook_url, body)
    return outcome


def exception_reminders_send(*, now=None) -> int:
    """Send every reminder due now that no run has claimed yet; returns how many this run sent."""
    now = now or timezone.now()
    sent = 0
    for days, field in STAGES:
        for exception in _due(days, field, now):
            claimed = PolicyException.objects.filter(pk=exception.pk, **{f"{field}__isnull": True}).update(**{field: now})
            if not claimed:  # another run took it between our read and our claim
                continue
            outcome = _send(exception, days)
            audit_record(actor=None, action="exception.reminder_sent", target=exception, team=exception.team,
                         days_before_expiry=days, **outcome)
            sent += 1
    return sent
