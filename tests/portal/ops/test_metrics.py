"""/metrics: Prometheus text whose figures are what the database and the broker hold, readable only
from this machine or with METRICS_TOKEN."""
import datetime
import uuid

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from builds.models import Build
from builds.services import build_request
from compliance.models import EcosystemData, ImageScan, ImportRun, ReevaluationDue, Verdict
from tests.integration.private_services import free_port


def scrape(client=None, **headers) -> dict[tuple[str, tuple], float]:
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def builds(recipe, member, count: int) -> list[Build]:
    return [build_request(user=member, recipe=recipe) for _ in range(count)]


def steps(start: datetime.datetime, **seconds) -> dict:
    return {step: {"status": "done", "started": start.isoformat(),
                   "finished": (start + datetime.timedelta(seconds=s)).isoformat()} for step, s in seconds.items()}


def test_it_counts_builds_by_status(db, recipe, member):
    made = builds(recipe, member, 6)
    Build.objects.filter(pk__in=[b.pk for b in made[:3]]).update(status=Build.Status.SUCCEEDED, finished=timezone.now())
    Build.objects.filter(pk=made[3].pk).update(status=Build.Status.FAILED, finished=timezone.now())
    Build.objects.filter(pk=made[4].pk).update(status=Build.Status.RUNNING)
    Build.objects.filter(pk=made[5].pk).update(created=timezone.now() - datetime.timedelta(seconds=300))
    samples = scrape()
    expected = {"queued": 1, "running": 1, "succeeded": 3, "failed": 1, "cancelled": 0}
    assert {status: samples[("portal_builds", (("status", status),))] for status in expected} == expected
    assert 299 <= samples[("portal_builds_oldest_queued_seconds", ())] < 330


def test_it_counts_live_workers_per_queue_from_their_heartbeats(db, settings):
    from builds.liveness import worker_heartbeat_write
    from builds.models import WorkerHeartbeat

    WorkerHeartbeat.objects.all().delete()  # rows of workers another test run left in this database
    worker_heartbeat_write(node="w1@h", pid=1, queues=["builds", "scans"], concurrency=2, active_builds=[], started=timezone.now())
    worker_heartbeat_write(node="hk@h", pid=2, queues=["default"], concurrency=2, active_builds=[], started=timezone.now())
    worker_heartbeat_write(node="dead@h", pid=3, queues=["builds"], concurrency=2, active_builds=[], started=timezone.now())
    WorkerHeartbeat.objects.filter(node="dead@h").update(
        last_seen=timezone.now() - datetime.timedelta(seconds=settings.WORKER_STALE_SECONDS + 1))
    samples = scrape()
    assert {q: samples[("portal_workers", (("queue", q),))] for q in ("builds", "scans", "default")} == \
        {"builds": 1, "scans": 1, "default": 1}


def test_it_gives_step_durations_of_recent_builds(db, recipe, member, settings):
    start = timezone.now() - datetime.timedelta(hours=1)
    made = builds(recipe, member, 4)
    for build, seconds in zip(made, [10, 20, 30, 400]):
        Build.objects.filter(pk=build.pk).update(status=Build.Status.SUCCEEDED, finished=start + datetime.timedelta(seconds=seconds),
                                                 steps=steps(start, build=seconds, push=2))
    samples = scrape()
    duration = lambda step, q: samples[("portal_build_step_duration_seconds", (("quantile", q), ("step", step)))]  # noqa: E731
    assert duration("build", "0.5") == 20 and duration("build", "0.9") == 400 and duration("build", "1") == 400
    assert duration("push", "1") == 2
    assert samples[("portal_build_step_duration_samples", (("step", "build"),))] == 4
    settings.METRICS_RECENT_BUILDS = 2  # only the two latest finished: 30 and 400
    samples = scrape()
    assert samples[("portal_build_step_duration_samples", (("step", "build"),))] == 2
    assert samples[("portal_build_step_duration_seconds", (("quantile", "0.5"), ("step", "build")))] == 30


def test_it_gives_scans_gate_outcomes_and_data_age(db, recipe, member):
    now = timezone.now()
    published, blocked, passed, failed = builds(recipe, member, 4)
    Build.objects.filter(pk__in=[published.pk, blocked.pk, passed.pk]).update(status=Build.Status.SUCCEEDED, finished=now)
    Build.objects.filter(pk=published.pk).update(published_at=now, published_reference="x/published/demo/a:1")
    Build.objects.filter(pk=failed.pk).update(status=Build.Status.FAILED, finished=now)
    Verdict.objects.create(build=passed, passed=False, results=[])
    Verdict.objects.create(build=passed, passed=True, results=[])  # the latest verdict counts
    Verdict.objects.create(build=blocked, passed=True, results=[])
    Verdict.objects.create(build=blocked, passed=False, results=[])
    for build, seconds in [(published, 4), (blocked, 8)]:
        scan = ImageScan.objects.create(build=build, digest="sha256:" + "1" * 64, status=ImageScan.Status.DONE)
        ImageScan.objects.filter(pk=scan.pk).update(created=now - datetime.timedelta(seconds=seconds), finished=now)
    EcosystemData.objects.create(ecosystem="Debian:12", source="osv", imported_at=now - datetime.timedelta(hours=2))
    run = ImportRun.objects.create(source="osv", origin="/data", status=ImportRun.Status.DONE)
    ImportRun.objects.filter(pk=run.pk).update(finished=now - datetime.timedelta(minutes=30))

    samples = scrape()
    assert samples[("portal_gate_outcomes", (("outcome", "published"),))] == 1
    assert samples[("portal_gate_outcomes", (("outcome", "blocked"),))] == 1
    assert samples[("portal_scans", (("status", "done"),))] == 2
    assert samples[("portal_scan_duration_seconds", (("quantile", "1"),))] == pytest.approx(8, abs=0.01)
    assert samples[("portal_scan_duration_seconds", (("quantile", "0.5"),))] == pytest.approx(4, abs=0.01)
    assert 7200 <= samples[("portal_vulndb_age_seconds", (("ecosystem", "Debian:12"),))] < 7260
    assert 1800 <= samples[("portal_vulndb_last_import_age_seconds", ())] < 1860
    assert samples[("portal_reevaluation_due_seconds", ())] == 0
    owed = ReevaluationDue.objects.create(import_run=run, pairs=[["Debian:12", "openssl"]], advisories=[1])
    ReevaluationDue.objects.filter(pk=owed.pk).update(created=now - datetime.timedelta(minutes=20))
    assert 1200 <= scrape()[("portal_reevaluation_due_seconds", ())] < 1260


def test_it_gives_the_depth_of_each_redis_queue(db, settings):
    if not django_settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail("these tests run with CELERY_BROKER_URL=redis://...")
    queue = f"metrics-test-{uuid.uuid4().hex[:8]}"  # a queue no worker reads
    settings.BUILD_QUEUES = [queue]
    store = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        store.rpush(queue, "a", "b", "c")
        store.rpush(queue + "\x06\x166", "d")  # kombu's list for priority 6
        samples = scrape()
    finally:
        store.delete(queue, queue + "\x06\x166")
    assert samples[("portal_broker_up", ())] == 1
    assert samples[("portal_queue_depth", (("queue", queue),))] == 4
    assert ("portal_queue_depth", (("queue", "scans"),)) in samples


def test_it_counts_the_file_system_brokers_messages(db, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    for name in ["1_a.builds.msg", "2_b.builds.msg", "3_c.default.msg"]:
        (tmp_path / name).write_text("{}")
    samples = scrape()
    assert samples[("portal_queue_depth", (("queue", "builds"),))] == 2
    assert samples[("portal_queue_depth", (("queue", "default"),))] == 1
    assert samples[("portal_queue_depth", (("queue", "scans"),))] == 0


def test_it_says_when_the_broker_does_not_answer(db, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    samples = scrape()
    assert samples[("portal_broker_up", ())] == 0
    assert not [key for key in samples if key[0] == "portal_queue_depth"]
    assert ("portal_builds", (("status", "queued"),)) in samples, "the database's figures still come"


def test_a_failing_collector_costs_only_its_own_figures(db, monkeypatch):
    from django.db import OperationalError

    from builds.metrics import BuildCollector

    def database_down(self):
        raise OperationalError("connection refused")
        yield  # a generator, as collect() is

    monkeypatch.setattr(BuildCollector, "collect", database_down)
    samples = scrape()
    assert samples[("portal_metrics_collector_up", (("collector", "BuildCollector"),))] == 0
    assert samples[("portal_metrics_collector_up", (("collector", "ComplianceCollector"),))] == 1
    assert not [key for key in samples if key[0] == "portal_builds"]
    assert ("portal_gate_outcomes", (("outcome", "published"),)) in samples
    assert samples[("portal_broker_up", ())] == 1


def test_it_includes_django_prometheus_request_metrics(db):
    Client().get("/healthz")
    assert any(name.startswith("django_http_requests") for name, _ in scrape())


@pytest.mark.parametrize("token, address, headers, allowed", [
    ("", "127.0.0.1", {}, True),  # the default: this machine only
    ("", "::1", {}, True),
    ("", "203.0.113.9", {}, False),
    ("", "127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, False),  # a proxy on this host, not declared
    ("s3cret", "203.0.113.9", {"HTTP_AUTHORIZATION": "Bearer s3cret"}, True),
    ("s3cret", "203.0.113.9", {"HTTP_AUTHORIZATION": "Bearer wrong"}, False),
    ("s3cret", "203.0.113.9", {}, False),
    ("", "203.0.113.9", {"HTTP_AUTHORIZATION": "Bearer "}, False),  # no token configured: no empty match
])
def test_it_lets_only_loopback_or_the_token_read_metrics(db, settings, token, address, headers, allowed):
    settings.METRICS_TOKEN = token
    response = Client().get("/metrics", REMOTE_ADDR=address, **headers)
    assert response.status_code == (200 if allowed else 403)
    assert (b"portal_builds" in response.content) is allowed


def test_it_refuses_loopback_when_told_to(db, settings):
    settings.METRICS_ALLOW_LOOPBACK = False
    assert Client().get("/metrics").status_code == 403
    settings.METRICS_TOKEN = "s3cret"
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_it_trusts_the_address_a_declared_proxy_saw(db, settings):
    settings.PORTAL_PROXY_COUNT = 1
    assert Client().get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200
    assert Client().get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
