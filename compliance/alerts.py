"""Tell a team when one of its published images turns non-compliant: a webhook and an e-mail.

A failing receiver never breaks re-evaluation; what was sent (or why not) goes to the audit log.
"""
import logging

import requests
from django.conf import settings
from django.core.mail import send_mail

from portal.audit import audit_record

log = logging.getLogger(__name__)


def alert_body(build, verdict) -> dict:
    return {
        "event": "image.noncompliant",
        "team": build.team.slug,
        "image": build.published_reference,
        "digest": build.digest,
        "build": build.pk,
        "verdict": verdict.pk,
        "database_version": verdict.database_version,
        "failing_rules": [{"rule": r["rule"], "message": r["message"]} for r in verdict.failures],
        "note": "Pulls are not blocked: the image stays published. Rebuild to pick up fixes.",
    }


def webhook_send(url: str, body: dict) -> str:
    """POST the JSON body; what happened, for the audit log (a failure is reported, not raised)."""
    try:
        response = requests.post(url, json=body, timeout=settings.ALERT_WEBHOOK_TIMEOUT)
        return f"HTTP {response.status_code}"
    except requests.RequestException as error:
        log.warning("webhook %s failed: %s", url, error)
        return f"failed: {error}"


def email_send(subject: str, text: str, recipients: list[str]) -> str:
    """Send through Django's mail settings; what happened, for the audit log."""
    try:
        send_mail(subject, text, None, recipients)
        return "sent"
    except OSError as error:
        return f"failed: {error}"


def alert_noncompliant(build, verdict) -> dict:
    """Send the alert to the team's webhook and e-mail; returns what happened to each."""
    body = alert_body(build, verdict)
    outcome = {}
    if build.team.webhook_url:
        outcome["webhook"] = webhook_send(build.team.webhook_url, body)
    if build.team.alert_email:
        subject = f"[image portal] {build.recipe} is no longer compliant"
        lines = [f"{r['rule']}: {r['message']}" for r in body["failing_rules"]]
        text = f"{build.published_reference}\n\n" + "\n".join(lines) + f"\n\n{body['note']}\n"
        outcome["email"] = email_send(subject, text, [build.team.alert_email])
    audit_record(actor=None, action="alert.noncompliant", target=build, team=build.team, **outcome)
    return outcome
