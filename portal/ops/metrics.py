"""/metrics: Prometheus text, who may read it, and the collectors the apps register.

What django-prometheus counts in this process (requests, answers, latencies; in every gunicorn
worker when PROMETHEUS_MULTIPROC_DIR is set, as `make run` does), followed by the portal's own
figures, computed at scrape time from the database and the broker by the collectors each app
registers in its AppConfig.ready() (builds/metrics.py, compliance/metrics.py) and the broker's
queue depths below: the project package imports no app.
"""
import hmac
import ipaddress
import logging
import os
from pathlib import Path

import redis
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from portal.accounts.lockout import client_ip

log = logging.getLogger(__name__)
_COLLECTORS: list = []
# kombu's Redis transport keeps a queue's messages of priority p > 0 under "<queue>\x06\x16<p>".
_REDIS_PRIORITY_SUFFIXES = ["", "\x06\x163", "\x06\x166", "\x06\x169"]


def collector_register(collector) -> None:
    """Add a collector (an object with collect() yielding metric families) to /metrics, once."""
    if not any(type(known) is type(collector) for known in _COLLECTORS):
        _COLLECTORS.append(collector)


def metrics_allowed(request) -> bool:
    """Who may read /metrics: whoever sends `Authorization: Bearer <METRICS_TOKEN>`, and, unless
    METRICS_ALLOW_LOOPBACK is off, a client on this machine (loopback). A request that came through a
    proxy the portal was not told about (X-Forwarded-For with PORTAL_PROXY_COUNT 0) is not taken
    for a local one: a reverse proxy on the same host would otherwise open /metrics to the internet."""
    token = settings.METRICS_TOKEN
    if token:
        sent = request.META.get("HTTP_AUTHORIZATION", "")
        if sent.startswith("Bearer ") and hmac.compare_digest(sent[len("Bearer "):].strip().encode(), token.encode()):
            return True
    if not settings.METRICS_ALLOW_LOOPBACK:
        return False
    if settings.PORTAL_PROXY_COUNT == 0 and "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        return ipaddress.ip_address(client_ip(request) or "").is_loopback
    except ValueError:
        return False


def metrics_text() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    own = CollectorRegistry(auto_describe=False)
    own.register(_Isolated([QueueCollector(), *_COLLECTORS]))
    return generate_latest(processes) + generate_latest(own)


class _Isolated:
    """The collectors one after the other, each failure (the database down) costing only that
    collector's figures, said by portal_metrics_collector_up, not the whole scrape."""

    def __init__(self, collectors):
        self.collectors = collectors

    def collect(self):
        up = GaugeMetricFamily("portal_metrics_collector_up", "1 when the collector's figures could be computed",
                               labels=["collector"])
        for collector in self.collectors:
            name = type(collector).__name__
            try:
                families = list(collector.collect())
            except Exception as error:  # one line per scrape: an outage must not flood the log with tracebacks
                log.warning("metrics: %s failed: %s", name, (str(error).strip().splitlines() or [type(error).__name__])[-1])
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def queue_names() -> list[str]:
    return sorted({"builds", "scans", "default", *settings.BUILD_QUEUES})


def queue_depths() -> dict[str, int]:
    """Messages waiting in each Celery queue of the broker (Redis lists, or the file-system broker's files)."""
    url = settings.CELERY_BROKER_URL
    names = queue_names()
    if url.startswith("filesystem://"):
        files = [path.name for path in Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]).iterdir()]
        return {name: sum(f.endswith(f".{name}.msg") for f in files) for name in names}
    timeout = settings.METRICS_BROKER_TIMEOUT_SECONDS
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        pipe = client.pipeline(transaction=False)
        for name in names:
            for suffix in _REDIS_PRIORITY_SUFFIXES:
                pipe.llen(name + suffix)
        lengths = pipe.execute()
    finally:
        client.close()
    per = len(_REDIS_PRIORITY_SUFFIXES)
    return {name: sum(lengths[i * per:(i + 1) * per]) for i, name in enumerate(names)}


class QueueCollector:
    def collect(self):
        up = GaugeMetricFamily("portal_broker_up", "1 when the broker answered this scrape, 0 when it did not")
        try:
            depths = queue_depths()
        except (redis.RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("portal_queue_depth", "Messages waiting in a Celery queue", labels=["queue"])
        for name, count in depths.items():
            depth.add_metric([name], count)
        yield depth
