"""Build figures for /metrics, computed at scrape time from the database (portal/ops/metrics.py)."""
import datetime
import math

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from builds.liveness import workers_alive
from builds.models import Build

QUANTILES = (0.5, 0.9, 1.0)


def quantiles(values: list[float]) -> dict[float, float]:
    """The 0.5, 0.9 and 1.0 (largest) quantiles of `values` (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return {q: ordered[max(0, math.ceil(q * len(ordered)) - 1)] for q in QUANTILES}


def _seconds(entry: dict) -> float | None:
    try:
        started = datetime.datetime.fromisoformat(entry["started"])
        finished = datetime.datetime.fromisoformat(entry["finished"])
    except (KeyError, TypeError, ValueError):
        return None
    seconds = (finished - started).total_seconds()
    return seconds if seconds >= 0 else None


def step_durations(limit: int) -> dict[str, list[float]]:
    """step -> seconds, of the steps that finished (done or failed) in the `limit` latest finished builds."""
    durations: dict[str, list[float]] = {}
    recent = Build.objects.filter(finished__isnull=False).order_by("-finished").values_list("steps", flat=True)[:limit]
    for steps in recent:
        for step, entry in (steps or {}).items():
            if isinstance(entry, dict) and (seconds := _seconds(entry)) is not None:
                durations.setdefault(step, []).append(seconds)
    return durations


class BuildCollector:
    def collect(self):
        counts = dict(Build.objects.order_by().values_list("status").annotate(n=Count("pk")))
        by_status = GaugeMetricFamily("portal_builds", "Builds by status", labels=["status"])
        for status in Build.Status.values:
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status

        oldest = Build.objects.filter(status=Build.Status.QUEUED).aggregate(oldest=Min("created"))["oldest"]
        waiting = GaugeMetricFamily("portal_builds_oldest_queued_seconds",
                                    "How long the oldest queued build has waited (0: none waits)")
        waiting.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0)
        yield waiting

        limit = settings.METRICS_RECENT_BUILDS
        durations = step_durations(limit)
        step_seconds = GaugeMetricFamily(
            "portal_build_step_duration_seconds",
            f"Duration of each pipeline step over the {limit} latest finished builds (quantile 1: the longest)",
            labels=["step", "quantile"])
        samples = GaugeMetricFamily("portal_build_step_duration_samples",
                                    "Steps measured in portal_build_step_duration_seconds", labels=["step"])
        for step in sorted(durations, key=lambda s: (Build.STEPS.index(s) if s in Build.STEPS else len(Build.STEPS), s)):
            for q, value in quantiles(durations[step]).items():
                step_seconds.add_metric([step, f"{q:g}"], value)
            samples.add_metric([step], len(durations[step]))
        yield step_seconds
        yield samples

        # Live workers (heartbeat rows not stale) per queue they consume: 0 for a queue nobody serves.
        workers = GaugeMetricFamily("portal_workers", "Live Celery workers consuming each queue", labels=["queue"])
        live = list(workers_alive().values_list("queues", flat=True))
        for queue in sorted({q for queues in live for q in queues} | set(settings.BUILD_QUEUES) | {"scans", "default"}):
            workers.add_metric([queue], sum(1 for queues in live if queue in queues))
        yield workers
