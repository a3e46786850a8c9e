"""After a database import, re-match only the scans whose packages the changed records name.

No image is downloaded again: the stored SBOM is matched against the new data, the verdict is
re-evaluated, and the owners of a published image that turned non-compliant are alerted.
Pulls are never blocked.
"""
import logging

from django.db.models import Q

from compliance.alerts import alert_noncompliant
from compliance.matching import package_coordinates, scan_match
from compliance.models import ImageScan
from compliance.services import verdict_evaluate

log = logging.getLogger(__name__)


def scans_naming(changed: set[tuple[str, str]]):
    """Scans with a package some changed record may name (a cheap superset, refined per scan)."""
    names = {name for _, name in changed}
    lowered = {name.lower() for name in names}
    return (
        ImageScan.objects.filter(status=ImageScan.Status.DONE, build__isnull=False)
        .filter(Q(packages__source_name__in=names) | Q(packages__name__in=names | lowered))
        .distinct()
        .select_related("build__team", "build__recipe")
    )


def _names_changed_package(scan: ImageScan, changed) -> bool:
    return any(package_coordinates(scan, p)[:2] in changed for p in scan.packages.all() if package_coordinates(scan, p))


def reevaluate_after_import(changed: set[tuple[str, str]]) -> dict:
    counts = {"scans": 0, "flipped_to_fail": 0, "flipped_to_pass": 0, "alerts": 0}
    if not changed:
        return counts
    for scan in scans_naming(changed):
        if not _names_changed_package(scan, changed):
            continue
        build = scan.build
        before = build.verdicts.order_by("-created").first()
        scan_match(scan)
        after = verdict_evaluate(build=build, trigger="reevaluation")
        counts["scans"] += 1
        if before is not None and before.passed and not after.passed:
            counts["flipped_to_fail"] += 1
            if build.published_reference:
                alert_noncompliant(build, after)
                counts["alerts"] += 1
        elif before is not None and not before.passed and after.passed:
            counts["flipped_to_pass"] += 1
    log.info("re-evaluation after import: %s", counts)
    return counts
