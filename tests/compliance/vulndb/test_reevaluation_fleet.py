"""Re-evaluation at fleet scale: a changed finding rewritten in place by one UPDATE."""
import pytest
from django.db import connection

from compliance.vulndb.reevaluation import reevaluate_after_import
from compliance.vulndb.store import vulndb_import
from tests.compliance.test_severity_counts import assert_counts_kept
from tests.compliance.vulndb.test_reevaluation import published, stored, webhook, whole_match  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_store import osv, write

pytestmark = pytest.mark.django_db


def finding_writes() -> tuple[int, int, int]:
    """Rows of compliance_finding inserted, updated and deleted in this transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute("select n_tup_ins, n_tup_upd, n_tup_del from pg_stat_xact_user_tables "
                       "where relname = 'compliance_finding'")
        return cursor.fetchone()


def test_a_changed_finding_is_rewritten_in_place_by_one_update(tmp_path, published):  # noqa: F811
    _, changed = vulndb_import(source="osv", path=write(
        tmp_path, osv("DEB-2024-0001", urgency="low"), osv("DEB-2024-0002", fixed=None, urgency="low")))
    reevaluate_after_import(changed)
    before = dict(published.scan.findings.values_list("advisory__osv_id", "pk"))
    writes = finding_writes()

    # 0001 gets a new urgency and a new fix; 0002 is withdrawn; 0003 is new
    _, changed = vulndb_import(source="osv", path=write(
        tmp_path, osv("DEB-2024-0001", modified="2024-02-01T00:00:00Z", fixed="3.0.13-1", urgency="high"),
        osv("DEB-2024-0002", modified="2024-02-01T00:00:00Z", fixed=None, withdrawn="2024-02-01T00:00:00Z"),
        osv("DEB-2024-0003", fixed=None, urgency="low")))
    reevaluate_after_import(changed)

    inserted, updated, deleted = (after - was for after, was in zip(finding_writes(), writes))
    assert (inserted, updated, deleted) == (1, 1, 1), "0001 rewritten in place, 0002 deleted, 0003 inserted"
    rewritten = published.scan.findings.get(advisory__osv_id="DEB-2024-0001")
    assert (rewritten.severity, rewritten.fixed_version) == ("High", "3.0.13-1")
    assert rewritten.pk > before["DEB-2024-0001"], "it reads as replaced: a new id, as an inserted row would have"
    assert rewritten.pk < published.scan.findings.get(advisory__osv_id="DEB-2024-0003").pk, "ids in the order written"
    assert stored(published.scan) == whole_match(published.scan)
    assert_counts_kept("after a finding was rewritten in place")
