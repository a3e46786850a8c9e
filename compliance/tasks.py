"""Thin Celery tasks of the scanner adapters (queue `scans`): ids in, services do the work."""
from celery import shared_task

from compliance.harbor.services import registry_artifact_scan
from compliance.models import ImageScan

# A Debian image reads in seconds; the limit only stops a stuck registry from holding a worker.
SCAN_SOFT_TIME_LIMIT = 1800


@shared_task(name="compliance.tasks.scan_registry_artifact", ignore_result=True,
             soft_time_limit=SCAN_SOFT_TIME_LIMIT, time_limit=SCAN_SOFT_TIME_LIMIT + 60)
def scan_registry_artifact(scan_id: int, authorization: str = "") -> None:
    scan = ImageScan.objects.filter(pk=scan_id).first()
    if scan is not None:
        registry_artifact_scan(scan=scan, authorization=authorization)


@shared_task(name="compliance.tasks.reevaluate_policy_change", ignore_result=True)
def reevaluate_policy_change(team_id: int | None) -> None:
    from compliance.policy_change import reevaluate_after_policy_change

    reevaluate_after_policy_change(team_id)


@shared_task(name="compliance.tasks.prune_harbor_scans", ignore_result=True)
def prune_harbor_scans() -> int:
    from compliance.harbor.services import harbor_scans_prune

    return harbor_scans_prune()
