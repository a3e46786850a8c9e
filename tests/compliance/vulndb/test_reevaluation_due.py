"""Nothing an import changed goes without its re-evaluation: what each batch of records changed is
kept (ReevaluationDue) in the batch's own transaction until a re-evaluation has covered it, so an
import that failed half-way, a process killed between the import and its re-evaluation, or a
re-evaluation that stopped after rewriting the findings is finished by the next import, sync or
scheduled pass."""
import io

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from compliance import tasks
from compliance.models import ImportRun, ReevaluationDue
from compliance.vulndb import reevaluation, store
from compliance.vulndb.reevaluation import DUE_LOCK, reevaluate_due
from compliance.vulndb.store import vulndb_import
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_store import osv, write
from tests.compliance.vulndb.test_sync import feed_server, osv_zip, sync  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def latest_verdict(build):
    return build.verdicts.order_by("-created", "-pk").first()


def test_each_batch_of_an_import_leaves_what_it_changed_owed(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "BATCH", 2)
    run, changed = vulndb_import(source="osv", path=write(
        tmp_path, osv("DEB-2024-0001"), osv("DEB-2024-0002", name="zlib"), osv("DEB-2024-0003", name="curl")))
    rows = list(ReevaluationDue.objects.filter(import_run=run))
    assert len(rows) == 2, "one row per batch that changed something"
    assert {tuple(pair) for row in rows for pair in row.pairs} == set(changed)
    assert {pk for row in rows for pk in row.advisories} == changed.advisories
    assert all(row.attempts == 0 for row in rows)

    again, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001")))
    assert not changed and not ReevaluationDue.objects.filter(import_run=again).exists(), "nothing changed, nothing owed"


def test_an_import_whose_process_died_before_the_re_evaluation_is_finished_by_the_scheduled_pass(
        tmp_path, published, webhook, mailoutbox):  # noqa: F811
    # The import committed its records; the process was killed before it re-evaluated anything.
    vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    assert latest_verdict(published).passed

    counts = tasks.reevaluate_due_task()

    assert counts["flipped_to_fail"] == 1 and counts["alerts"] == 1
    assert not latest_verdict(published).passed
    assert webhook[1][0]["event"] == "image.noncompliant", "the owners are told, late rather than never"
    assert not ReevaluationDue.objects.exists()
    assert tasks.reevaluate_due_task() is None, "nothing owed: the pass does nothing"


def test_a_re_evaluation_that_stopped_after_rewriting_the_findings_is_finished_with_their_verdicts(
        tmp_path, published, monkeypatch):  # noqa: F811
    vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))

    def killed(*args, **kwargs):
        raise RuntimeError("the worker was killed")

    real = reevaluation._Verdicts.batch
    monkeypatch.setattr(reevaluation._Verdicts, "batch", killed)
    with pytest.raises(RuntimeError):
        reevaluate_due()
    assert published.scan.findings.filter(vulnerability_id="CVE-0001-0001").exists(), "the findings were rewritten"
    assert latest_verdict(published).passed, "and the verdict was not"
    assert {row.attempts for row in ReevaluationDue.objects.all()} == {1}

    # The findings are current now: matching again changes none, yet the verdict must follow them.
    monkeypatch.setattr(reevaluation._Verdicts, "batch", real)
    counts = reevaluate_due()
    assert counts["resumed"] and counts["flipped_to_fail"] == 1
    assert not latest_verdict(published).passed
    assert not ReevaluationDue.objects.exists()


def test_the_import_command_re_evaluates_what_a_failed_import_stored_before_failing(tmp_path, published, monkeypatch):  # noqa: F811
    monkeypatch.setattr(store, "BATCH", 1)
    read = store.feed_read

    def half_read(source, path):
        yield from read(source, path)
        raise OSError("the feed's disk went away")

    monkeypatch.setattr(store, "feed_read", half_read)
    out = io.StringIO()
    with pytest.raises(CommandError, match="disk went away"):
        call_command("vulndb_import", "osv", write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)), stdout=out)
    assert ImportRun.objects.order_by("-pk").first().status == "failed"
    assert "1 turned non-compliant" in out.getvalue()
    assert not latest_verdict(published).passed, "the record the failed import stored is in force: so is its finding"
    assert not ReevaluationDue.objects.exists()


def test_a_sync_told_nothing_changed_still_finishes_what_the_last_one_left(settings, feed_server, published, monkeypatch):  # noqa: F811
    base, root, _ = feed_server
    (root / "debian.zip").write_bytes(osv_zip(osv("DEB-2024-0001", severity=CRITICAL)))
    feeds = [{"source": "osv", "url": f"{base}/debian.zip"}]

    def lost(*args, **kwargs):
        raise ConnectionError("the database went away")

    real = reevaluation.reevaluate_after_import
    monkeypatch.setattr(reevaluation, "reevaluate_after_import", lost)
    with pytest.raises(ConnectionError):
        sync(settings, feeds)
    assert latest_verdict(published).passed

    monkeypatch.setattr(reevaluation, "reevaluate_after_import", real)
    imported = ImportRun.objects.filter(origin=f"{base}/debian.zip").get()
    out = sync(settings, feeds)
    assert "unchanged: not modified since the last import (HTTP 304)" in out
    assert f"{imported.pk} left to do)" in out and "1 turned non-compliant" in out  # (the baseline's import too)
    assert not latest_verdict(published).passed


def test_one_process_re_evaluates_at_a_time(tmp_path, published):  # noqa: F811
    vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity=CRITICAL)))
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("host", "port", "user", "password", "dbname")},
                         autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [DUE_LOCK])  # another worker is re-evaluating
        assert reevaluate_due(wait=False) is None
        assert tasks.reevaluate_due_task() is None
        assert ReevaluationDue.objects.filter(attempts=0).exists(), "left for the one holding the lock, or the next pass"
        other.execute("SELECT pg_advisory_unlock(%s)", [DUE_LOCK])
    assert reevaluate_due(wait=False)["flipped_to_fail"] == 1


def test_the_scheduled_pass_runs_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["reevaluate-due"]
    assert entry["task"] == "compliance.tasks.reevaluate_due" and entry["schedule"] == 300
    assert entry["options"]["expires"] == 300
