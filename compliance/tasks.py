"""Thin Celery tasks of compliance, and how each is sent: ids in, services do the work.

Scanner tasks go to the `scans` queue; exception upkeep stays on `default` (CELERY_TASK_ROUTES).
A task is sent once the transaction that asked for it commits, so a rolled-back request sends nothing.
"""
import datetime
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from compliance.alerts import alerts_owed_send
from compliance.attestations.refresh import attestations_refresh
from compliance.attestations.transparency import transparency_upload_pending
from compliance.exceptions.reminders import exception_reminders_send
from compliance.exceptions.services import exceptions_expire
from compliance.harbor.services import harbor_scans_prune, registry_artifact_scan, registry_artifact_scan_request
from compliance.models import ImageScan, PolicyReevaluationDue, PolicyRule, ReevaluationDue
from compliance.policy.change import policy_reevaluations_due_run
from compliance.scanned_layers import scanned_layers_prune
from compliance.vulndb.reevaluation import reevaluate_due

log = logging.getLogger(__name__)
# A Debian image reads in seconds; the limit only stops a stuck registry from holding a worker.
SCAN_SOFT_TIME_LIMIT = 1800


@shared_task(name="compliance.tasks.scan_registry_artifact", ignore_result=True,
             soft_time_limit=SCAN_SOFT_TIME_LIMIT, time_limit=SCAN_SOFT_TIME_LIMIT + 60)
def scan_registry_artifact(scan_id: int) -> None:
    """The scan's id only: the worker finds Harbor's registry credential beside the scan."""
    scan = ImageScan.objects.filter(pk=scan_id).first()
    if scan is not None:
        registry_artifact_scan(scan=scan)


@shared_task(name="compliance.tasks.reevaluate_policy_change", ignore_result=True)
def reevaluate_policy_change(team_id: int | None, trigger: str = "policy-change") -> None:
    """Queued by a change (`_reevaluation_dispatch`), which also left its row owed: runs every
    owed change (after another run holding the lock, which may have covered this one)."""
    policy_reevaluations_due_run(wait=True)


@shared_task(name="compliance.tasks.reevaluate_policy_due", ignore_result=True)
def reevaluate_policy_due() -> dict | None:
    """Scheduled: what a change's lost message or dead worker left owed (PolicyReevaluationDue)."""
    if not PolicyReevaluationDue.objects.exists():
        return None
    return policy_reevaluations_due_run(wait=False)


@shared_task(name="compliance.tasks.reevaluate_due", ignore_result=True)
def reevaluate_due_task() -> dict | None:
    """Scheduled: finishes what an import or a re-evaluation stopped half-way left owed
    (ReevaluationDue); nothing when nothing is owed, or while another process re-evaluates."""
    if not ReevaluationDue.objects.exists():
        return None
    return reevaluate_due(wait=False)


@shared_task(name="compliance.tasks.send_owed_alerts", ignore_result=True)
def send_owed_alerts() -> int:
    """Scheduled: the alerts a process that died before sending them left owed (AlertOwed)."""
    return alerts_owed_send(older_than=datetime.timedelta(seconds=settings.ALERT_OWED_GRACE_SECONDS))


@shared_task(name="compliance.tasks.prune_harbor_scans", ignore_result=True)
def prune_harbor_scans() -> int:
    return harbor_scans_prune()


@shared_task(name="compliance.tasks.prune_scanned_layers", ignore_result=True)
def prune_scanned_layers() -> int:
    return scanned_layers_prune()


@shared_task(name="compliance.tasks.expire_exceptions", ignore_result=True)
def expire_exceptions() -> int:
    return exceptions_expire()


@shared_task(name="compliance.tasks.remind_expiring_exceptions", ignore_result=True)
def remind_expiring_exceptions() -> int:
    """Hourly; safe to run often, late or twice at once (each reminder is claimed on its row)."""
    return exception_reminders_send()


@shared_task(name="compliance.tasks.upload_to_transparency_log", ignore_result=True)
def upload_to_transparency_log() -> int:
    """Every 30 s from beat; nothing unless PORTAL_REKOR_URL is set. Safe twice at once (rows are claimed)."""
    return transparency_upload_pending()


@shared_task(name="compliance.tasks.refresh_attestations", ignore_result=True)
def refresh_attestations(renew: bool = False) -> int:
    """Every minute: a new verdict attestation for each published image whose verdict changed, and
    everything signed again after a key rotation; hourly (`renew`), verdicts about to run out too."""
    return attestations_refresh(renew=renew)


def registry_artifact_scan_queue(*, registry_url: str, authorization: str, artifact: dict) -> ImageScan:
    """Record a queued scan of `artifact` (Harbor's Artifact object) and its credential, and send
    the scan's id after commit."""
    with transaction.atomic():
        scan = registry_artifact_scan_request(registry_url=registry_url, artifact=artifact, authorization=authorization)
        transaction.on_commit(lambda: scan_registry_artifact.apply_async(args=[scan.pk]))
    return scan


def policy_change_dispatch(rule: PolicyRule) -> None:
    """Queue the re-evaluation once the rule change is committed (a rolled-back change queues
    nothing). Called for every save and delete, whoever made it: API, admin or shell."""
    _reevaluation_dispatch(rule.team_id, "policy-change")


def approved_bases_change_dispatch() -> None:
    """The approved bases changed (one approved, withdrawn, or its layers re-pinned): every image's
    approved-base and privilege rules read them, so every current verdict is evaluated again."""
    _reevaluation_dispatch(None, "base-change")


def _reevaluation_dispatch(team_id: int | None, trigger: str) -> None:
    """Owed in the change's transaction (so it holds whatever happens to the message), then queued."""
    PolicyReevaluationDue.objects.create(team_id=team_id, trigger=trigger)

    def send():
        try:
            reevaluate_policy_change.delay(team_id, trigger)
        except Exception:  # the broker is down: the change stands, and its re-evaluation is owed (the scheduled pass)
            log.exception("could not queue the re-evaluation after %s (team %s)", trigger, team_id or "all")

    transaction.on_commit(send)
