"""Does the global search's package lookup need the index of migration 0019, and its order? The
search's package query timed as shipped, without the index, and sorted instead of read in index
order, side by side, on a fleet of many SBOM packages; and the whole search page.

    .venv/bin/python bench/package_search.py [--images 1000] [--packages 200] [--per-package 1] [--repeat 5]

Creates the database `portal_bench_package_search` (dropped first, and at the end unless --keep)
and fills it with bench/page_queries.py's fleet: --images builds over 50 teams, two builds per
recipe (only the latest is a current image), --packages SBOM packages per scan named lib0, lib1,
... (so "lib42" is one package of every image and "lib1" the first of 111 names of every image),
--per-package findings each. One package of every 50th scan is renamed "openssl-rare": a name few
images hold. Then, for each search, as a security reviewer (every team) and as a member of one
team, the first page of packages is read in rounds of three variants, in rotating order so all
meet the same machine load:
- shipped: `package_matches` (names in the index's order: the exact name first, as a prefix of the others);
- no index: the same inside a transaction that dropped the index (rolled back after);
- sorted: exact names first by a CASE, then the names in the database's collation, team, image
  (the first version of this query): every match is sorted before the page is cut.

Printed per search: the rows shown, whether PostgreSQL's plan for the shipped query reads the
index, its median milliseconds, the medians of the paired ratios no index / shipped and sorted /
shipped, and the median time of the whole search page (queries in brackets).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_queries import database_create, database_done, django_setup, fleet_grow, fleet_setup  # noqa: E402

URL = "postgres://postgres@127.0.0.1:5432/portal_bench_package_search"
INDEX = "compliance_sbompackage_name_prefix"
SEARCHES = {"a name every image has (lib42)": "lib42", "a prefix of 111 names per image (lib1)": "lib1",
            "the same, other case (LIB1)": "LIB1", "a name few images have (openssl-rare)": "openssl-rare",
            "a name no image has (zlib)": "zlib"}
VARIANTS = ("shipped", "no index", "sorted")


class RolledBack(Exception):
    pass


def first_page(q: str, teams, variant: str) -> float:
    """Seconds to read the first page of packages (one more row than shown, as the view does)."""
    from django.db import connection, transaction
    from django.db.models import Case, IntegerField, Value, When
    from django.db.models.functions import Upper

    from compliance.search.selectors import PACKAGE_ROWS, package_matches

    query = package_matches(q, teams)
    if variant == "sorted":
        query = query.order_by(Case(When(name__iexact=q, then=Value(0)), default=Value(1), output_field=IntegerField()),
                               Upper("name"), "scan__build__team__slug", "scan__build__recipe__name", "pk")
    seconds = None
    try:
        with transaction.atomic():
            if variant == "no index":
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP INDEX {INDEX}")
            started = time.perf_counter()
            list(query[:PACKAGE_ROWS + 1])
            seconds = time.perf_counter() - started
            raise RolledBack  # the index is back, nothing else changed
    except RolledBack:
        pass
    return seconds


def plan(q: str, teams) -> str:
    """PostgreSQL's plan for the search's first page of packages, one line per node."""
    from django.db import connection

    from compliance.search.selectors import PACKAGE_ROWS, package_matches

    sql, params = package_matches(q, teams)[:PACKAGE_ROWS + 1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def page_seconds(client, url: str, repeat: int) -> tuple[float, int, int]:
    """(median seconds, queries, rows shown) of the whole search page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: templates
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), len(captured), len(response.context["packages"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="builds (two per recipe)")
    parser.add_argument("--packages", type=int, default=200)
    parser.add_argument("--per-package", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--plans", action="store_true", help="print the reviewer's plans too")
    args = parser.parse_args()

    database_create(URL)
    django_setup(URL)
    from django.db import connection
    from django.test import Client

    from compliance.models import SbomPackage
    from portal.rbac import visible_teams

    try:
        reviewer, member, teams, advisory_ids = fleet_setup()
        started = time.perf_counter()
        fleet_grow(recipes=args.images // 2, start=0, teams=teams, member=member, reviewer=reviewer,
                   advisory_ids=advisory_ids, packages=args.packages, per_package=args.per_package)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE compliance_sbompackage SET name = 'openssl-rare' WHERE name = 'lib7' AND scan_id % 50 = 0")
            cursor.execute("ANALYZE")
        filled = time.perf_counter() - started
        packages = SbomPackage.objects.count()
        results = []
        for who, user in (("reviewer", reviewer), ("member", member)):
            client = Client()
            client.force_login(user)
            scope = visible_teams(user)
            for label, q in SEARCHES.items():
                if args.plans and who == "reviewer":
                    print(f"--- {label}\n{plan(q, scope)}")
                for variant in VARIANTS:
                    first_page(q, scope, variant)  # warm: plan caches, pages read into memory
                times = {variant: [] for variant in VARIANTS}
                for n in range(args.repeat * 3):
                    for variant in VARIANTS[n % 3:] + VARIANTS[:n % 3]:
                        times[variant].append(first_page(q, scope, variant))
                shipped = times["shipped"]
                ratios = {variant: statistics.median(t / s for t, s in zip(times[variant], shipped))
                          for variant in VARIANTS[1:]}
                page = page_seconds(client, f"/search?q={q}", args.repeat)
                results.append((who, label, INDEX in plan(q, scope), statistics.median(shipped), ratios, page))
    finally:
        database_done(URL, keep=args.keep)

    print(f"{packages:,} SBOM packages ({args.images} builds, {args.images // 2} current images, {args.packages} "
          f"packages each); filled in {filled:.0f} s")
    print(f"{'as':9} {'search':40} {'index read':>10} {'ms':>6} {'no index/shipped':>17} {'sorted/shipped':>15} "
          f"{'page ms (queries, rows)':>24}")
    for who, label, uses, seconds, ratios, (page, queries, rows) in results:
        print(f"{who:9} {label:40} {'yes' if uses else 'no':>10} {seconds * 1000:>6.1f} {ratios['no index']:>16.1f}x "
              f"{ratios['sorted']:>14.1f}x {page * 1000:>12.0f} ({queries}, {rows})")


if __name__ == "__main__":
    main()
