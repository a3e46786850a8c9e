"""Compliance figures for /metrics, computed at scrape time from the database (portal/ops/metrics.py)."""
from django.conf import settings
from django.db.models import Count, Max, Min, OuterRef, Subquery
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from builds.metrics import quantiles
from builds.models import Build
from compliance.models import EcosystemData, ImageScan, ImportRun, ReevaluationDue, Verdict


def gate_outcomes() -> dict[str, int]:
    """published: builds whose image the gate published; blocked: built, not published, and their
    latest verdict failed (the build page's "Built, blocked by policy")."""
    latest_passed = Verdict.objects.filter(build=OuterRef("pk")).order_by("-created", "-pk").values("passed")[:1]
    blocked = (Build.objects.filter(status=Build.Status.SUCCEEDED, published_at__isnull=True)
               .annotate(latest_passed=Subquery(latest_passed)).filter(latest_passed=False).count())
    return {"published": Build.objects.filter(published_at__isnull=False).count(), "blocked": blocked}


def scan_durations(limit: int) -> list[float]:
    """Seconds from request to end of the `limit` latest finished scans (a build's scan is requested
    when its push ends, so this is mostly reading and matching)."""
    rows = (ImageScan.objects.filter(finished__isnull=False, status__in=[ImageScan.Status.DONE, ImageScan.Status.FAILED])
            .order_by("-finished").values_list("created", "finished")[:limit])
    return [(finished - created).total_seconds() for created, finished in rows]


class ComplianceCollector:
    def collect(self):
        now = timezone.now()
        counts = dict(ImageScan.objects.order_by().values_list("status").annotate(n=Count("pk")))
        scans = GaugeMetricFamily("portal_scans", "Image scans by status", labels=["status"])
        for status in ImageScan.Status.values:
            scans.add_metric([status], counts.get(status, 0))
        yield scans

        limit = settings.METRICS_RECENT_BUILDS
        durations = scan_durations(limit)
        scan_seconds = GaugeMetricFamily(
            "portal_scan_duration_seconds",
            f"Duration of the {limit} latest finished scans, request to end (quantile 1: the longest)", labels=["quantile"])
        if durations:
            for q, value in quantiles(durations).items():
                scan_seconds.add_metric([f"{q:g}"], value)
        yield scan_seconds

        gate = GaugeMetricFamily("portal_gate_outcomes", "Built images by what the gate decided", labels=["outcome"])
        for outcome, count in gate_outcomes().items():
            gate.add_metric([outcome], count)
        yield gate

        ages = GaugeMetricFamily("portal_vulndb_age_seconds",
                                 "Seconds since an ecosystem's vulnerability data was last imported", labels=["ecosystem"])
        for ecosystem, imported_at in EcosystemData.objects.values_list("ecosystem", "imported_at"):
            ages.add_metric([ecosystem], (now - imported_at).total_seconds())
        yield ages

        last = ImportRun.objects.filter(status=ImportRun.Status.DONE).aggregate(last=Max("finished"))["last"]
        if last is not None:
            since = GaugeMetricFamily("portal_vulndb_last_import_age_seconds",
                                      "Seconds since the last successful vulnerability data import")
            since.add_metric([], (now - last).total_seconds())
            yield since

        # Owed for longer than the scheduled pass's interval: re-evaluations keep failing (see the worker's log).
        oldest = ReevaluationDue.objects.aggregate(oldest=Min("created"))["oldest"]
        due = GaugeMetricFamily("portal_reevaluation_due_seconds",
                                "Seconds the oldest change an import made has waited for its re-evaluation (0: none waits)")
        due.add_metric([], (now - oldest).total_seconds() if oldest else 0)
        yield due
