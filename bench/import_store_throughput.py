"""Import real vulnerability feeds into the database with `vulndb_import`: records/second for a
first import (every record added), a second one (every record unchanged) and one where every
record was modified (every record updated), next to parsing alone (`feed_read`).

    .venv/bin/python bench/import_store_throughput.py \
        osv=/work/shared/data/vulndb/pypa-advisory-database/vulns \
        osv=/work/shared/data/vulndb/debian-elts-osv/advisories \
        debian-dsa=/work/shared/data/vulndb/debian-security-tracker/DSA.list \
        debian-dla=/work/shared/data/vulndb/debian-security-tracker/DLA.list \
        alpine-secdb=/work/shared/data/vulndb/alpine-secdb

SOURCE is what `vulndb_import` takes (osv, debian-tracker, debian-dsa, debian-dla, alpine-secdb).
The "updated" round imports an OSV copy of the records, then a second one with a later
`modified` and another summary (both written to a temporary folder), so every record takes the
update path. With --baseline REV, compliance/vulndb/store.py as it was at that git revision is
timed in the same rounds. Runs in its own database, `portal_bench_import` (created and migrated
if missing; emptied before each import that must start empty).
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_vs_download import database_create, django_setup, module_at  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_import"


def empty() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("truncate compliance_importrun, compliance_advisory, compliance_affectedpackage, "
                       "compliance_finding restart identity cascade")


def timed_import(source: str, path: str, vulndb_import):
    started = time.perf_counter()
    run, changed = vulndb_import(source=source, path=path)
    seconds = time.perf_counter() - started
    if run.status != "done":
        sys.exit(f"import of {path} failed: {run.error}")
    return run, changed, seconds


def osv_copy(records, folder: Path, modified: str, summary: str) -> str:
    """The accepted records as OSV JSON with another `modified` and summary: importing a second
    copy over a first one updates every record."""
    folder.mkdir()
    for number, record in enumerate(records):
        data = {k: v for k, v in record.to_dict().items() if v not in (None, "", [], {}) and k != "source"}
        data["modified"], data["summary"] = modified, f"{record.summary} {summary}"
        data["affected"] = [{"package": {"ecosystem": a.ecosystem, "name": a.name}, "ranges": a.ranges,
                             "versions": a.versions, "ecosystem_specific": a.ecosystem_specific,
                             "database_specific": a.database_specific} | ({"severity": a.severity} if a.severity else {})
                            for a in record.affected]
        (folder / f"{number:06d}.json").write_text(json.dumps(data))
    return str(folder)


def measure(source: str, path: str, rounds: int, importers: dict) -> None:
    from compliance.vulndb.advisory import Advisory
    from compliance.vulndb.store import feed_read

    parse, timings = [], {(name, kind): [] for name in importers for kind in ("first", "again", "update")}
    for _ in range(rounds):
        started = time.perf_counter()
        records = list(feed_read(source, path))
        parse.append(time.perf_counter() - started)
        accepted = [r for r in records if isinstance(r, Advisory) and not r.withdrawn]
        with tempfile.TemporaryDirectory() as folder:
            first_copy = osv_copy(accepted, Path(folder, "a"), "2029-01-01T00:00:00Z", "(first)")
            second_copy = osv_copy(accepted, Path(folder, "b"), "2030-01-01T00:00:00Z", "(revised)")
            for name, vulndb_import in importers.items():  # alternating per round: noise hits both alike
                empty()
                run, changed, seconds = timed_import(source, path, vulndb_import)
                timings[(name, "first")].append(seconds)
                again_run, _, seconds = timed_import(source, path, vulndb_import)
                timings[(name, "again")].append(seconds)
                empty()
                timed_import("osv", first_copy, vulndb_import)
                update_run, _, seconds = timed_import("osv", second_copy, vulndb_import)
                timings[(name, "update")].append(seconds)
                print(f"   {name}: re-import unchanged {again_run.unchanged:,} updated {again_run.updated:,}; "
                      f"modified copy updated {update_run.updated:,}")
            importers = dict(reversed(importers.items()))
    total = len(records)
    print(f"== {source} {path}: {total:,} records ({run.added:,} added, {run.rejected:,} rejected, "
          f"{len(changed):,} (ecosystem, package) pairs)")
    print(f"   {'parse only (feed_read)':34s} {statistics.median(parse):7.2f} s "
          f"{total / statistics.median(parse):9,.0f} records/s")
    for kind, label, count in (("first", "first import (added)", total), ("again", "same feed again", total),
                               ("update", "every record modified (updated)", len(accepted))):
        for name in sorted(importers, key=lambda n: n != "today"):
            seconds = statistics.median(timings[(name, kind)])
            print(f"   {label + ' ' + name:34s} {seconds:7.2f} s {count / seconds:9,.0f} records/s")
    print(f"   (medians of {rounds} rounds)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("feeds", nargs="+", help="SOURCE=PATH")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--baseline", metavar="REV", help="also time compliance/vulndb/store.py as it was at this "
                        "git revision, in the same rounds (e.g. 8f0ed0e)")
    args = parser.parse_args()
    database_create(args.database_url)
    django_setup(args.database_url)
    from compliance.vulndb.store import vulndb_import

    importers = {"today": vulndb_import}
    if args.baseline:
        importers[args.baseline] = module_at(args.baseline, ("compliance/vulndb/store.py", "compliance/vulndb/store.py")).vulndb_import
    for spec in args.feeds:
        source, _, path = spec.partition("=")
        measure(source, path, args.rounds, importers)


if __name__ == "__main__":
    main()
