"""Advisories by vulnerability id (compliance/vulndb/lookup.py): an id or an alias, whole, in the
spellings people type, answered by indexes on PostgreSQL rather than by reading every advisory."""
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from compliance.exceptions.approvals import approvals_required_for
from compliance.models import Advisory
from compliance.vulndb.ids import vulnerability_id_spellings
from compliance.vulndb.lookup import advisories_named
from tests.compliance.fleet import WIDESPREAD, fleet_grow

CRITICAL = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]  # 9.8


@pytest.mark.parametrize("typed, spellings", [
    ("CVE-2024-1234", ("CVE-2024-1234",)),
    ("cve-2024-1234", ("cve-2024-1234", "CVE-2024-1234")),
    ("GHSA-H5C8-RQWP-CP95", ("GHSA-H5C8-RQWP-CP95", "GHSA-h5c8-rqwp-cp95")),
    ("ghsa-h5c8-rqwp-cp95", ("ghsa-h5c8-rqwp-cp95", "GHSA-h5c8-rqwp-cp95", "GHSA-H5C8-RQWP-CP95")),
    ("bit-node-2023-1", ("bit-node-2023-1", "BIT-node-2023-1", "BIT-NODE-2023-1")),
    ("debian-cve-2024-1", ("debian-cve-2024-1", "DEBIAN-cve-2024-1", "DEBIAN-CVE-2024-1")),
    ("RHSA-2024:1234", ("RHSA-2024:1234",)),
    ("weird", ("weird",)), ("-x", ("-x",)), ("x-", ("x-",)),
])
def test_an_id_is_looked_up_as_given_then_with_its_prefix_in_upper_case_and_the_rest_as_given_upper_or_lower(
        typed, spellings):
    assert vulnerability_id_spellings(typed) == spellings


def advisory(osv_id: str, aliases=(), *, severity=None, withdrawn=None) -> Advisory:
    record = {"id": osv_id, "aliases": list(aliases), **({"severity": severity} if severity else {})}
    return Advisory.objects.create(source="osv", osv_id=osv_id, modified=timezone.now(), aliases=list(aliases),
                                   record=record, withdrawn=withdrawn)


def named(vulnerability_id: str) -> set[str]:
    return set(advisories_named(vulnerability_id).values_list("osv_id", flat=True))


@pytest.mark.django_db
def test_an_id_finds_the_advisories_it_names_or_that_alias_it_whole_in_the_case_a_person_types():
    advisory("DEBIAN-CVE-2024-1234", ["CVE-2024-1234"])
    advisory("GHSA-h5c8-rqwp-cp95", ["CVE-2024-1234", "PYSEC-2024-7"])
    advisory("CVE-2024-12345")
    advisory("BIT-node-2024-1", ["CVE-2024-9999"])
    both = {"DEBIAN-CVE-2024-1234", "GHSA-h5c8-rqwp-cp95"}

    assert named("CVE-2024-1234") == named("cve-2024-1234") == both
    assert named("GHSA-h5c8-rqwp-cp95") == named("GHSA-H5C8-RQWP-CP95") == named("ghsa-h5c8-rqwp-cp95") == {
        "GHSA-h5c8-rqwp-cp95"}, "the search links GHSA ids upper-cased"
    assert named("pysec-2024-7") == {"GHSA-h5c8-rqwp-cp95"}
    assert named("cve-2024-12345") == {"CVE-2024-12345"}
    assert named("bit-node-2024-1") == named("cve-2024-9999") == {"BIT-node-2024-1"}
    assert named("debian-cve-2024-1234") == {"DEBIAN-CVE-2024-1234"}
    for part in ("2024-1234", "CVE-2024-123", "CVE-2024", "h5c8-rqwp-cp95", ""):
        assert named(part) == set(), f"{part!r} is a part of an id, not one"


@pytest.mark.django_db
def test_the_cve_page_and_the_approvals_find_a_vulnerability_typed_in_lower_case(client, reviewer, team, other_team,
                                                                                 member):
    fleet_grow(teams=[team, other_team], images=3, findings_per_image=1, requester=member, reviewer=reviewer)
    client.force_login(reviewer)
    page = client.get(reverse("vulnerability-impact", args=[WIDESPREAD.lower()]))
    assert page.context["image_count"] == 3, "the findings name it CVE-2026-0001"
    assert [a.osv_id for a in page.context["advisories"]] == [WIDESPREAD]

    advisory("GHSA-aaaa-bbbb-cccc", ["CVE-2031-0007"], severity=CRITICAL)
    advisory("GHSA-dddd-eeee-ffff", ["CVE-2031-0008"], severity=CRITICAL, withdrawn=timezone.now())
    assert approvals_required_for("vulnerability", "cve-2031-0007") == 2
    assert approvals_required_for("vulnerability", "GHSA-AAAA-BBBB-CCCC") == 2
    assert approvals_required_for("vulnerability", "cve-2031-0008") == 1, "withdrawn: grades nothing"
    assert [a.osv_id for a in client.get(reverse("vulnerability-impact", args=["GHSA-AAAA-BBBB-CCCC"])
                                         ).context["advisories"]] == ["GHSA-aaaa-bbbb-cccc"]


def explain(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_postgresql_answers_a_lookup_from_the_indexes_not_by_reading_every_advisory():
    # Enough advisories, shaped like the feeds' (a Debian record aliasing its CVE, GitHub's aliasing
    # a CVE and a PYSEC id), for the planner to prefer the indexes on its own statistics.
    now = timezone.now()
    Advisory.objects.bulk_create(
        [Advisory(source="osv", osv_id=f"DEBIAN-CVE-2020-{n}", modified=now, aliases=[f"CVE-2020-{n}"]) for n in range(2000)]
        + [Advisory(source="ghsa", osv_id=f"GHSA-{n:04x}-abcd-efgh", modified=now,
                    aliases=[f"CVE-2021-{n}", f"PYSEC-2021-{n}"]) for n in range(2000)])
    with connection.cursor() as cursor:
        # New GIN entries wait in the index's pending list, which every lookup reads whole, until
        # autovacuum merges them (it does after an insert this size; the list never exceeds
        # gin_pending_list_limit, 4 MB): merged here as it would be, then the statistics it takes.
        cursor.execute("SELECT gin_clean_pending_list('compliance_advisory_aliases'::regclass)")
        cursor.execute("ANALYZE compliance_advisory")
    assert named("cve-2021-42") == {"GHSA-002a-abcd-efgh"}

    for query in (advisories_named("cve-2021-42"),  # as the search and the CVE page's findings ask
                  advisories_named("cve-2021-42").values_list("pk", flat=True)[:100],
                  advisories_named("GHSA-002A-ABCD-EFGH").filter(withdrawn__isnull=True)[:10]):
        plan = explain(query)
        assert "Seq Scan" not in plan, plan
        assert "compliance_advisory_aliases" in plan and "compliance_advisory_osv_id" in plan, plan
