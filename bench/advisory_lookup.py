"""Looking up the advisories of a vulnerability id: the old `aliases__icontains` query vs
`advisories_named` (jsonb containment on the GIN index, osv_id on its btree), side by side.

    .venv/bin/python bench/advisory_lookup.py [--advisories 200000] [--repeat 15] [--keep]

Creates the database `portal_bench_aliases` (dropped first, and at the end unless --keep), migrates
it and fills it by INSERT ... SELECT with --advisories advisories shaped like the feeds': every CVE
is named by four of them, a record whose id is the CVE (aliases none), a Debian one
(DEBIAN-CVE-..., aliasing the CVE), a Debian DSA aliasing it and the CVE before it or an Ubuntu one
aliasing it, and a GitHub one (GHSA-xxxx-xxxx-xxxx, lower case after the prefix, aliasing the CVE
and, for every third, a PYSEC id); records of 0.3 to 1.3 KB. Then VACUUM ANALYZE, as autovacuum
leaves a table after an import.

Each lookup is the CVE page's (`vulnerability_findings`: the ids of at most 100 advisories), timed
in rounds that alternate which query goes first, --repeat rounds after one to warm up. Printed per
id: the advisories each query finds, the median milliseconds of each, and old / new; then the
sizes of the new indexes and the time to build the GIN index (REINDEX), what the migration costs.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_queries import database_create, database_done, django_setup  # noqa: E402

URL = "postgres://postgres@127.0.0.1:5432/portal_bench_aliases"
INDEXES = ("compliance_advisory_aliases", "compliance_advisory_osv_id")
GHSA_LETTERS = "23456789cfghjmpqrvwx"  # GitHub's alphabet for the parts of a GHSA id

# The CVE of advisory n is number n / 4; its kind is n % 4 (see the module doc).
FILL = """
WITH rows AS (
  SELECT n, n / 4 AS k, n %% 4 AS kind,
         'CVE-' || (2000 + (n / 4) %% 25) || '-' || lpad((n / 4)::text, 5, '0') AS cve,
         'GHSA-' || array_to_string(ARRAY(
             SELECT substr(%(letters)s, 1 + get_byte(decode(md5(n::text), 'hex'), i) %% 20, 1)
             FROM generate_series(0, 11) i), '') AS ghsa
  FROM generate_series(0, %(count)s - 1) n
), named AS (
  SELECT n, cve,
         CASE kind WHEN 0 THEN cve
                   WHEN 1 THEN 'DEBIAN-' || cve
                   WHEN 2 THEN CASE WHEN k %% 2 = 0 THEN 'DSA-' || (1000 + k) || '-1' ELSE 'UBUNTU-' || cve END
                   ELSE substr(ghsa, 1, 9) || '-' || substr(ghsa, 10, 4) || '-' || substr(ghsa, 14, 4) END AS osv_id,
         CASE kind WHEN 0 THEN '[]'::jsonb
                   WHEN 2 THEN CASE WHEN k %% 2 = 0 AND k > 0
                                    THEN jsonb_build_array(cve, 'CVE-' || (2000 + (k - 1) %% 25) || '-' || lpad((k - 1)::text, 5, '0'))
                                    ELSE jsonb_build_array(cve) END
                   WHEN 3 THEN CASE WHEN k %% 3 = 0 THEN jsonb_build_array(cve, 'PYSEC-' || (2000 + k %% 25) || '-' || k)
                                    ELSE jsonb_build_array(cve) END
                   ELSE jsonb_build_array(cve) END AS aliases,
         CASE kind WHEN 0 THEN 'nvd' WHEN 1 THEN 'debian-tracker' WHEN 2 THEN 'osv' ELSE 'ghsa' END AS source
  FROM rows
)
INSERT INTO compliance_advisory (source, osv_id, modified, published, aliases, summary, record)
SELECT source, osv_id, now(), now(), aliases, 'A flaw in package' || (n %% 5000) || ' before 1.' || (n %% 40),
       jsonb_build_object('id', osv_id, 'aliases', aliases,
                          'details', (SELECT string_agg(md5(n::text || '-' || j), ' ') FROM generate_series(0, 8 + n %% 30) j),
                          'affected', jsonb_build_array(jsonb_build_object(
                              'package', jsonb_build_object('ecosystem', 'Debian:12', 'name', 'package' || (n %% 5000)),
                              'ranges', jsonb_build_array(jsonb_build_object('type', 'ECOSYSTEM', 'events', jsonb_build_array(
                                  jsonb_build_object('introduced', '0'), jsonb_build_object('fixed', '1.' || (n %% 40) || '-1')))))))
FROM named
"""


def ids_to_look_up(count: int) -> dict[str, str]:
    """Label -> the id as a person types it or a link carries it, all of them in the database
    whatever --advisories is (the middle CVE's advisories, and one GHSA id)."""
    from compliance.models import Advisory

    k = count // 8
    cve = f"CVE-{2000 + k % 25}-{k:05d}"
    ghsa = Advisory.objects.filter(source="ghsa", aliases__contains=[cve]).values_list("osv_id", flat=True).first() or \
        Advisory.objects.filter(source="ghsa").values_list("osv_id", flat=True).first()
    return {"a CVE as the search links it": cve, "the CVE typed in lower case": cve.lower(),
            "a GHSA id upper-cased (search link)": ghsa.upper(), "a Debian advisory id": f"DEBIAN-{cve}",
            "an id no advisory names": "CVE-1999-99999"}


def old_lookup(vulnerability_id: str):
    """The query the CVE page's findings, the impact page, the search and the approvals each had."""
    from django.db.models import Q

    from compliance.models import Advisory

    return Advisory.objects.filter(Q(osv_id=vulnerability_id) | Q(aliases__icontains=f'"{vulnerability_id}"'))


def new_lookup(vulnerability_id: str):
    from compliance.vulndb.lookup import advisories_named

    return advisories_named(vulnerability_id)


LOOKUPS = {"old": old_lookup, "new": new_lookup}


def timed(lookup, vulnerability_id: str) -> tuple[float, set[int]]:
    started = time.perf_counter()
    found = set(lookup(vulnerability_id).values_list("pk", flat=True)[:100])
    return time.perf_counter() - started, found


def fill(count: int) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(FILL, {"count": count, "letters": GHSA_LETTERS})
        cursor.execute("VACUUM ANALYZE compliance_advisory")
    return time.perf_counter() - started


def index_facts() -> tuple[dict[str, str], float, str]:
    """(index -> size, seconds to build the GIN index, the table's size)."""
    from django.db import connection

    with connection.cursor() as cursor:
        sizes = {}
        for name in INDEXES:
            cursor.execute("SELECT pg_size_pretty(pg_relation_size(%s::regclass))", [name])
            sizes[name] = cursor.fetchone()[0]
        started = time.perf_counter()
        cursor.execute(f"REINDEX INDEX {INDEXES[0]}")
        build = time.perf_counter() - started
        cursor.execute("SELECT pg_size_pretty(pg_table_size('compliance_advisory'))")
        return sizes, build, cursor.fetchone()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--advisories", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    database_create(URL)
    django_setup(URL)
    from compliance.models import Advisory

    try:
        filled = fill(args.advisories)
        total = Advisory.objects.count()
        results = []
        for label, vulnerability_id in ids_to_look_up(args.advisories).items():
            found = {name: timed(lookup, vulnerability_id)[1] for name, lookup in LOOKUPS.items()}  # warm
            times = {name: [] for name in LOOKUPS}
            for n in range(args.repeat):
                for name in (("old", "new") if n % 2 == 0 else ("new", "old")):
                    times[name].append(timed(LOOKUPS[name], vulnerability_id)[0])
            medians = {name: statistics.median(t) for name, t in times.items()}
            results.append((label, vulnerability_id, len(found["old"]), len(found["new"]), medians))
        sizes, build, table = index_facts()
    finally:
        database_done(URL, keep=args.keep)

    print(f"{total:,} advisories ({table}), filled in {filled:.0f} s; median of {args.repeat} lookups each")
    print(f"{'lookup':38} {'id':22} {'found old/new':>13} {'old ms':>8} {'new ms':>7} {'old/new':>8}")
    for label, vulnerability_id, old_found, new_found, medians in results:
        print(f"{label:38} {vulnerability_id:22} {old_found:>9}/{new_found:<3} {medians['old'] * 1000:>8.1f} "
              f"{medians['new'] * 1000:>7.2f} {medians['old'] / medians['new']:>7.0f}x")
    print(f"indexes: {', '.join(f'{name} {size}' for name, size in sizes.items())}; "
          f"the GIN index builds in {build:.1f} s")


if __name__ == "__main__":
    main()
