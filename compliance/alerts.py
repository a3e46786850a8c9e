"""Tell a team when one of its published images turns non-compliant: a webhook and an e-mail.

A failing receiver never breaks re-evaluation; what was sent (or why not) goes to the audit log,
once per image (its build page reads it). A re-evaluation collects its alerts in an `AlertBatch`
and sends one message per team when it is done: a team whose 40 images an import flipped gets one
webhook call and one e-mail naming the 40 (event `images.noncompliant`), not 40 of each, and a slow
or dead receiver costs the run one timeout per team, not per image. A team with one image in the
batch gets the single-image body (event `image.noncompliant`) it always got.

An alert is owed from the moment its verdict is written: `AlertBatch.add` keeps it (AlertOwed) in
the verdict's transaction, and sending a team's alert claims its rows (row locks, skipping rows
another process holds), sends, then deletes them, all in one transaction. So each owed alert is
sent once, by the batch or, when the process died before sending, by the scheduled pass
(`alerts_owed_send`); a process that dies while sending leaves its rows owed.
"""
import datetime
import logging
from collections import defaultdict

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from compliance.models import AlertOwed
from portal.audit import audit_record
from portal.teams.webhooks import webhook_address_refusal

log = logging.getLogger(__name__)


NOTE = "Pulls are not blocked: the image stays published. Rebuild to pick up fixes."


def _image(build, verdict) -> dict:
    return {
        "image": build.published_reference,
        "digest": build.digest,
        "build": build.pk,
        "verdict": verdict.pk,
        "database_version": verdict.database_version,
        "failing_rules": [{"rule": r["rule"], "message": r["message"]} for r in verdict.failures],
    }


def alert_body(build, verdict) -> dict:
    return {"event": "image.noncompliant", "team": build.team.slug, **_image(build, verdict), "note": NOTE}


def alert_batch_body(team, flips: list[tuple]) -> dict:
    """One team's images that turned non-compliant in one re-evaluation, in one body."""
    return {"event": "images.noncompliant", "team": team.slug, "count": len(flips),
            "images": [_image(build, verdict) for build, verdict in flips], "note": NOTE}


def webhook_send(url: str, body: dict) -> str:
    """POST the JSON body; what happened, for the audit log (a failure is reported, not raised).
    Never to this host or a link-local address (portal/teams/webhooks.py), checked again now, and
    no redirect is followed: it could lead there."""
    if refused := webhook_address_refusal(url):
        log.warning("webhook %s refused: %s", url, refused)
        return f"refused: {refused}"
    try:
        response = requests.post(url, json=body, timeout=settings.ALERT_WEBHOOK_TIMEOUT, allow_redirects=False)
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


def _team_alert(team, flips: list[tuple]) -> dict:
    """One message to the team's webhook and one e-mail for these (build, verdict) flips of its
    published images; each image's audit record says what happened to them."""
    single = len(flips) == 1
    body = alert_body(*flips[0]) if single else alert_batch_body(team, flips)
    outcome = {}
    if team.webhook_url:
        outcome["webhook"] = webhook_send(team.webhook_url, body)
    if team.alert_email:
        if single:
            subject = f"[image portal] {flips[0][0].recipe} is no longer compliant"
        else:
            subject = f"[image portal] {len(flips)} images of {team.slug} are no longer compliant"
        sections = [f"{build.published_reference}\n\n" + "\n".join(f"{r['rule']}: {r['message']}" for r in verdict.failures)
                    for build, verdict in flips]
        outcome["email"] = email_send(subject, "\n\n".join(sections) + f"\n\n{NOTE}\n", [team.alert_email])
    for build, _ in flips:
        audit_record(actor=None, action="alert.noncompliant", target=build, team=team,
                     **outcome, **({} if single else {"images": len(flips)}))
    return outcome


def _owed_send(flips: list[tuple]) -> int:
    """One alert per team for the (build, verdict, AlertOwed pk) flips whose rows nobody else has
    sent or is sending, its images in the order they flipped; the number of messages."""
    teams, by_team = {}, defaultdict(list)
    for build, verdict, owed in flips:
        teams.setdefault(build.team_id, build.team)
        by_team[build.team_id].append((build, verdict, owed))
    sent = 0
    for team_id, team_flips in by_team.items():
        with transaction.atomic():
            claimed = set(AlertOwed.objects.select_for_update(skip_locked=True)
                          .filter(pk__in=[owed for *_, owed in team_flips]).values_list("pk", flat=True))
            mine = [(build, verdict) for build, verdict, owed in team_flips if owed in claimed]
            if mine:
                _team_alert(teams[team_id], mine)
                AlertOwed.objects.filter(pk__in=claimed).delete()
                sent += 1
    return sent


class AlertBatch:
    """The published images a re-evaluation turned non-compliant, sent per team by `send`."""

    def __init__(self):
        self.flips: list[tuple] = []

    def add(self, build, verdict) -> None:
        """Owed from now on (AlertOwed, in the caller's transaction: the verdict's). `build` needs
        its team loaded (and recipe, for a single image's e-mail subject)."""
        owed = AlertOwed.objects.create(build_id=build.pk, verdict_id=verdict.pk)
        self.flips.append((build, verdict, owed.pk))

    def send(self) -> int:
        """One alert per team, its images in the order they flipped; the number of messages."""
        flips, self.flips = self.flips, []
        return _owed_send(flips)


def alerts_owed_send(*, older_than: datetime.timedelta) -> int:
    """Send the alerts owed for longer than `older_than`: their process died before sending them (a
    live one sends its own when its re-evaluation ends). The number of messages."""
    rows = (AlertOwed.objects.filter(created__lt=timezone.now() - older_than)
            .select_related("build__team", "build__recipe", "verdict").order_by("pk"))
    return _owed_send([(row.build, row.verdict, row.pk) for row in rows])
