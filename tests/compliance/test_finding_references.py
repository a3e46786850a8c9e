"""A finding's references hold whatever door writes or deletes (migration 0024): the package must
be one of the finding's scan, the advisory must exist, and neither may go while a finding names it.
They are checked once per statement, by triggers, instead of by per-row foreign keys; these tests
try every door that could leave a finding pointing at nothing, including two sessions racing."""
import threading
import time

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from compliance.models import Advisory, Finding, ImageScan, SbomPackage

MISSING = 2_000_000_000  # an id no test row has


def _make(digest_digit: str = "7", apps=None):
    """A scan, its package and an advisory; with `apps`, as the models were at that migration state."""
    scan_model, package_model, advisory_model = ((ImageScan, SbomPackage, Advisory) if apps is None else
                                                 (apps.get_model("compliance", name) for name in
                                                  ("ImageScan", "SbomPackage", "Advisory")))
    scan = scan_model.objects.create(digest="sha256:" + digest_digit * 64, status="done", os_id="debian", os_version="12")
    package = package_model.objects.create(scan=scan, name="libssl3", version="3.0.11-1", source_name="openssl",
                                           source_version="3.0.11-1")
    advisory = advisory_model.objects.create(source="osv", osv_id=f"DEB-REF-{digest_digit}", modified=timezone.now())
    return scan, package, advisory


def _finding(scan, package, advisory, **fields) -> Finding:
    return Finding(scan=scan, package=package, advisory=advisory, vulnerability_id=advisory.osv_id,
                   installed_version=package.version, severity="High", severity_source="test", **fields)


def _violation(error: BaseException) -> bool:
    cause = error.__cause__ or error
    return getattr(cause, "sqlstate", None) == "23503"


@pytest.mark.django_db
class TestWriters:
    """Each door that writes findings is refused a reference that does not hold, at once (not at
    commit), with nothing of the statement written."""

    def test_a_finding_of_a_package_of_another_scan_is_refused(self):
        scan, package, advisory = _make("7")
        other, _, _ = _make("8")
        with pytest.raises(IntegrityError, match="has no such package") as refused, transaction.atomic():
            _finding(other, package, advisory).save()
        assert _violation(refused.value)
        _finding(scan, package, advisory).save()  # its own scan's package: fine
        assert Finding.objects.count() == 1

    def test_a_batch_with_one_bad_row_writes_nothing(self):
        scan, package, advisory = _make()
        rows = [_finding(scan, package, advisory) for _ in range(50)]
        rows[37].advisory_id = MISSING
        with pytest.raises(IntegrityError, match=f"names advisory {MISSING}"), transaction.atomic():
            Finding.objects.bulk_create(rows)
        assert not Finding.objects.exists()

    def test_raw_sql_and_copy_are_checked_too(self):
        scan, package, advisory = _make()
        insert = ("INSERT INTO compliance_finding (scan_id, package_id, advisory_id, vulnerability_id, installed_version, "
                  "fixed_version, severity, severity_source) VALUES (%s, %s, %s, 'X', '1', '', 'High', 'test')")
        with pytest.raises(IntegrityError, match="has no such package"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(insert, [scan.pk, MISSING, advisory.pk])
        # COPY goes through psycopg's own cursor: its error is psycopg's, the same SQLSTATE
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="does not exist"), transaction.atomic(), \
                connection.cursor() as cursor:
            with cursor.cursor.copy("COPY compliance_finding (scan_id, package_id, advisory_id, vulnerability_id, "
                                    "installed_version, fixed_version, severity, severity_source) FROM STDIN") as copy:
                copy.write_row((scan.pk, package.pk, MISSING, "X", "1", "", "High", "test"))
        assert not Finding.objects.exists()

    def test_an_update_may_not_move_a_finding_to_another_scans_package(self):
        scan, package, advisory = _make("7")
        _, elsewhere, _ = _make("8")
        finding = _finding(scan, package, advisory)
        finding.save()
        with pytest.raises(IntegrityError, match="has no such package"), transaction.atomic():
            Finding.objects.filter(pk=finding.pk).update(package=elsewhere)
        with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
            Finding.objects.filter(pk=finding.pk).update(advisory_id=MISSING)
        Finding.objects.filter(pk=finding.pk).update(severity="Low", fixed_version="3.0.13-1")  # references unchanged
        assert Finding.objects.get().package == package


@pytest.mark.django_db
class TestDeleters:
    """What a finding names cannot go from under it, by any door; the ORM cascades as it always did."""

    def test_raw_deletes_and_key_changes_of_what_a_finding_names_are_refused(self):
        scan, package, advisory = _make()
        _finding(scan, package, advisory).save()
        for statement, params in (("DELETE FROM compliance_sbompackage WHERE id = %s", [package.pk]),
                                  ("UPDATE compliance_sbompackage SET id = %s WHERE id = %s", [MISSING, package.pk]),
                                  ("UPDATE compliance_sbompackage SET scan_id = %s WHERE id = %s",
                                   [_make("8")[0].pk, package.pk]),
                                  ("DELETE FROM compliance_advisory WHERE id = %s", [advisory.pk]),
                                  ("UPDATE compliance_advisory SET id = %s WHERE id = %s", [MISSING, advisory.pk])):
            with pytest.raises(IntegrityError, match="still named by finding") as refused, transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(statement, params)
            assert _violation(refused.value), statement
        assert Finding.objects.get().package_id == package.pk

    def test_a_package_or_advisory_no_finding_names_may_go(self):
        scan, package, advisory = _make()
        spare = SbomPackage.objects.create(scan=scan, name="zlib1g", version="1")
        _finding(scan, package, advisory).save()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM compliance_sbompackage WHERE id = %s", [spare.pk])
            cursor.execute("UPDATE compliance_sbompackage SET version = '2' WHERE id = %s", [package.pk])
            cursor.execute("UPDATE compliance_advisory SET summary = 'changed' WHERE id = %s", [advisory.pk])
        assert not SbomPackage.objects.filter(pk=spare.pk).exists()

    def test_truncating_packages_or_advisories_alone_is_refused(self):
        scan, package, advisory = _make()
        _finding(scan, package, advisory).save()
        connection.check_constraints()  # fires the test transaction's pending deferred checks: TRUNCATE refuses to run with any
        for tables in ("compliance_sbompackage", "compliance_advisory, compliance_affectedpackage"):
            with pytest.raises(IntegrityError, match="cannot be truncated while findings are stored"), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f"TRUNCATE {tables}")
        with transaction.atomic(), connection.cursor() as cursor:  # with the findings, it goes
            cursor.execute("TRUNCATE compliance_finding, compliance_sbompackage")
            assert not Finding.objects.exists()
            transaction.set_rollback(True)
        assert Finding.objects.exists()

    def test_the_orm_cascades_from_a_scan_a_package_and_an_advisory(self):
        for digit, doomed in (("1", "scan"), ("2", "package"), ("3", "advisory")):
            scan, package, advisory = _make(digit)
            _finding(scan, package, advisory).save()
            {"scan": scan, "package": package, "advisory": advisory}[doomed].delete()
            assert not Finding.objects.filter(vulnerability_id=advisory.osv_id).exists(), doomed


def _session():
    settings = connection.settings_dict
    return psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                           dbname=settings["NAME"])


def _waits_on_a_lock(pid: int) -> bool:
    """Whether the session `pid` is waiting for a lock (polled: it gets there in its own time)."""
    with _session() as watcher:
        for _ in range(200):
            row = watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            if row and row[0] == "Lock":
                return True
            time.sleep(0.05)
    return False


def _in_thread(work) -> tuple[threading.Thread, dict]:
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except psycopg.Error as error:
            outcome["error"] = error
    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


_INSERT = ("INSERT INTO compliance_finding (scan_id, package_id, advisory_id, vulnerability_id, installed_version, "
           "fixed_version, severity, severity_source) VALUES (%s, %s, %s, 'X', '1', '', 'High', 'test')")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["writer", "deleter"])
@pytest.mark.parametrize("deleted", ["package", "advisory"])
def test_two_sessions_racing_never_leave_a_finding_pointing_at_nothing(first, deleted):
    """One session writes a finding while another deletes what it names. Whichever starts first,
    the other waits for it, then fails: the checks look after the locks are granted."""
    scan, package, advisory = _make()
    delete = {"package": ("DELETE FROM compliance_sbompackage WHERE id = %s", package.pk),
              "advisory": ("DELETE FROM compliance_advisory WHERE id = %s", advisory.pk)}[deleted]
    with _session() as writer, _session() as deleter:
        if first == "writer":
            writer.execute(_INSERT, [scan.pk, package.pk, advisory.pk])
            thread, outcome = _in_thread(lambda: deleter.execute(delete[0], [delete[1]]))
            assert _waits_on_a_lock(deleter.info.backend_pid), "the deletion did not wait for the writer"
            writer.commit()
        else:
            deleter.execute(delete[0], [delete[1]])
            thread, outcome = _in_thread(lambda: writer.execute(_INSERT, [scan.pk, package.pk, advisory.pk]))
            assert _waits_on_a_lock(writer.info.backend_pid), "the writer did not wait for the deletion"
            deleter.commit()
        thread.join(30)
        assert isinstance(outcome.get("error"), psycopg.errors.ForeignKeyViolation), outcome
        (writer if first == "deleter" else deleter).rollback()
        writer.commit()
        deleter.commit()
    orphans = Finding.objects.exclude(package__in=SbomPackage.objects.all()).count() + \
        Finding.objects.exclude(advisory__in=Advisory.objects.all()).count()
    assert orphans == 0
    assert Finding.objects.count() == (1 if first == "writer" else 0)


@pytest.mark.django_db(transaction=True)
def test_the_migration_refuses_stored_findings_of_another_scans_package():
    """The two constraints before 0024 let a finding's scan and its package's scan differ; the
    migration stops with a clear message rather than start checking over such rows."""
    before, after = [("compliance", "0023_advisory_lookup_indexes")], [("compliance", "0024_finding_references_by_statement")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        apps = executor.loader.project_state(before).apps
        scan, package, advisory = _make("7", apps)
        other, _, _ = _make("8", apps)
        with connection.cursor() as cursor:
            cursor.execute(_INSERT, [other.pk, package.pk, advisory.pk])
        with pytest.raises(RuntimeError, match="1 stored findings name a package of another scan"):
            MigrationExecutor(connection).migrate(after)
        Finding.objects.all().delete()
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    with pytest.raises(IntegrityError):  # and once through, it checks
        with connection.cursor() as cursor:
            cursor.execute(_INSERT, [other.pk, package.pk, advisory.pk])
