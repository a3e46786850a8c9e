"""Time the portal's scan of a Debian image against a large vulnerability database next to the
time it takes just to download and read the image's layers from the local registry.

    .venv/bin/python bench/scan_vs_download.py --data /work/shared/data/vulndb --rounds 7

(a) `read_image` alone on base/debian:bookworm (download + read every layer: packages, users,
secrets); (b) the scan path of a build: `image_scan` (the same read, then the SBOM rows stored)
followed by `scan_match` against the database. Rounds alternate the order of (a) and (b), so
machine noise hits both alike; the medians and their ratio are printed. `--baseline REV` adds, to
each round, the scan path with compliance/vulndb/matching.py as it was at that git revision (e.g.
8f0ed0e); `--profile` prints a cProfile of one `scan_match`.

The database (>= --records advisories, 200,000 by default) is synthesised once from the real
feeds under --data and reused by later runs (`--rebuild` starts over); how is printed. It lives in
its own PostgreSQL database, `portal_bench_scan` (created and migrated if missing; another URL
with --database-url), never in the one DATABASE_URL names. Needs `make services base-images`.
"""
import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_scan"
IMAGE = ("base/debian", "bookworm")


def database_create(url: str, *, template: str | None = None, replace: bool = False) -> None:
    """Create the database `url` names if it is missing (from `template` when given)."""
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [name]).fetchone()
        if exists and replace:
            conn.execute(f'drop database "{name}" with (force)')
            exists = None
        if not exists:
            conn.execute(f'create database "{name}"' + (f' template "{template}"' if template else ""))


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url  # overridden, never defaulted: keep the bench rows out of the dev database
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def module_at(revision: str, paths, **overrides):
    """A module of the project as it was at a git revision (its imports resolve to today's
    modules, or to `overrides`): the baseline, measured in the same run as today's code. `paths`:
    the module's file, or its files before and after a move (the first one the revision has)."""
    import subprocess
    import types

    for path in [paths] if isinstance(paths, str) else paths:
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:{path}"], capture_output=True, text=True)
        if shown.returncode == 0:
            break
    else:
        raise SystemExit(f"none of {paths} exists at {revision}")
    module = types.ModuleType(f"baseline_{revision}_{path.removesuffix('.py').replace('/', '_')}")
    sys.modules[module.__name__] = module
    exec(compile(shown.stdout, f"{revision}:{path}", "exec"), module.__dict__)
    module.__dict__.update(overrides)
    return module


# -- the synthetic vulnerability database ---------------------------------------------------
def real_feeds(data: Path) -> dict[str, list]:
    """The real records: Debian DSA/DLA lists and ELTS OSV (Debian:3.0..11), PyPA (PyPI)."""
    from compliance.vulndb.advisory import Advisory
    from compliance.vulndb.importers.debian_lists import read_debian_lists
    from compliance.vulndb.importers.osv import read_osv_source

    tracker = data / "debian-security-tracker"
    debian = [r for kind in ("DSA", "DLA")
              for r in read_debian_lists((tracker / f"{kind}.list").read_text(encoding="utf-8"), kind)]
    debian += list(read_osv_source(data / "debian-elts-osv" / "advisories"))
    pypi = list(read_osv_source(data / "pypa-advisory-database" / "vulns"))
    def keep(records):
        return [r for r in records if isinstance(r, Advisory) and not r.withdrawn and r.affected]

    return {"debian": keep(debian), "pypi": keep(pypi)}


def version_above(version: str) -> str:
    """A plausible next security update of a Debian version: 2.36-9+deb12u7 -> 2.36-9+deb12u8."""
    import re

    bumped, count = re.subn(r"(\d+)$", lambda m: str(int(m[1]) + 1), version)
    return bumped if count else version + ".1"


def _stable_hash(text: str) -> int:
    import zlib

    return zlib.crc32(text.encode())


def bookworm_records(debian: list, installed: dict[str, str], copy: int = 0, *, unfixed_every: int = 6) -> list[dict]:
    """Debian:12 records, one per CVE as osv.dev's DEBIAN-CVE-* are, for every real advisory
    entry naming a source package the images have. Most real fixes are older than bookworm's
    versions (not affected: the comparator still has to say so); about 1 in 6 becomes unfixed
    (as Debian's many "unimportant" open issues are) and 1 in 20 fixed just above the
    installed version, so matching finds what a real scan finds: a few fixable, many unfixed.

    Copies (`copy` > 0) keep only the real, old fixes under other ids: the tracker holds several
    times more entries for these packages than the DSA/DLA lists name, nearly all fixed long ago."""
    by_cve: dict[str, dict] = {}
    for advisory in debian:
        for entry in advisory.affected:
            if entry.name not in installed:
                continue
            real_fix = next((e["fixed"] for r in entry.ranges for e in r.get("events", []) if "fixed" in e), None)
            if copy and not real_fix:
                continue
            for cve in [a for a in advisory.aliases if a.startswith("CVE-")] or [advisory.id]:
                h = _stable_hash(cve + entry.name)
                fixed = real_fix
                urgency = entry.ecosystem_specific.get("urgency") or ("unimportant", "low", "medium", "high", "")[h % 5]
                if not copy and h % unfixed_every == 0:
                    fixed, urgency = None, ("unimportant", "low", "unimportant", "medium")[h % 4]
                elif not copy and h % 20 == 1:
                    fixed = version_above(installed[entry.name])
                record = by_cve.setdefault(cve, {
                    "id": f"DEBIAN-{cve}" + (f"-s{copy}" if copy else ""),
                    "modified": advisory.modified, "published": advisory.published,
                    "aliases": [cve] if cve.startswith("CVE-") else [], "summary": advisory.summary,
                    "references": advisory.references, "affected": []})
                if any(a["package"]["name"] == entry.name for a in record["affected"]):
                    continue
                events = [{"introduced": "0"}] + ([{"fixed": fixed}] if fixed else [])
                record["affected"].append({
                    "package": {"ecosystem": "Debian:12", "name": entry.name},
                    "ranges": [{"type": "ECOSYSTEM", "events": events}],
                    "ecosystem_specific": {"urgency": urgency} if urgency else {}})
    return list(by_cve.values())


def _advisory_rows(advisory, *, suffix: str = "", ecosystem: str | None = None):
    """(advisory fields, [affected fields]) of a real record, renamed for copy `suffix`."""
    record = advisory.to_dict()
    record["id"] += suffix
    affected = []
    for entry in record["affected"]:
        entry["name"] += suffix
        if ecosystem:
            entry["ecosystem"] = ecosystem
        affected.append(entry)
    return record, affected


def _osv_rows(record: dict):
    affected = [{"ecosystem": a["package"]["ecosystem"], "name": a["package"]["name"], "ranges": a["ranges"],
                 "versions": [], "ecosystem_specific": a.get("ecosystem_specific", {}), "database_specific": {},
                 "severity": []} for a in record["affected"]]
    stored = {**record, "source": "osv", "affected": affected, "severity": [], "related": [], "details": "",
              "withdrawn": None, "database_specific": {}}
    return stored, affected


def synthetic_database(data: Path, target: int, installed: dict[str, str], *, image_copies: int = 4,
                       unfixed_every: int = 6, rebuild: bool = False) -> dict:
    """At least `target` advisories in the database, bulk-copied (COPY) rather than imported
    record by record; reused when a previous run built the same. Returns how it was built."""
    from django.db import connection

    from compliance.models import Advisory, AffectedPackage, ImportRun
    from compliance.vulndb.coverage import ecosystems_imported

    def current(run):  # as an import that ran now: images are assessed, not "not assessed" for old data
        ecosystems_imported(run=run, ecosystems=set(AffectedPackage.objects.values_list("ecosystem", flat=True).distinct()))

    marker = ImportRun.objects.filter(source="bench-synth").first()
    if marker and not rebuild and marker.added >= target and marker.rejections and \
            marker.rejections[0].get("installed") == sorted(installed) and \
            marker.rejections[0].get("image_copies") == image_copies and \
            marker.rejections[0].get("unfixed_every") == unfixed_every:
        current(ImportRun(source=marker.source, pk=marker.pk))  # no finished date: counted as imported now
        return marker.rejections[0]
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("truncate compliance_importrun, compliance_advisory, compliance_affectedpackage, "
                       "compliance_finding restart identity cascade")
    feeds = real_feeds(data)
    rows = []  # (source, record dict, affected dicts)
    for advisory in feeds["debian"] + feeds["pypi"]:
        rows.append((advisory.source, *_advisory_rows(advisory)))
    real_count = len(rows)
    for copy in range(image_copies + 1):
        for record in bookworm_records(feeds["debian"], installed, copy, unfixed_every=unfixed_every):
            rows.append(("osv", *_osv_rows(record)))
    image_named = len(rows) - real_count
    copies = 0
    while len(rows) < target:
        copies += 1
        for advisory in feeds["debian"]:
            rows.append((advisory.source, *_advisory_rows(advisory, suffix=f"-s{copies}", ecosystem="Debian:12")))
        for advisory in feeds["pypi"]:
            rows.append((advisory.source, *_advisory_rows(advisory, suffix=f"-s{copies}")))
    _copy_advisories(rows)
    how = {
        "advisories": Advisory.objects.count(), "affected": AffectedPackage.objects.count(),
        "real": real_count, "image_named": image_named, "copies": copies,
        "debian12": AffectedPackage.objects.filter(ecosystem="Debian:12").count(),
        "pypi": AffectedPackage.objects.filter(ecosystem="PyPI").count(),
        "seconds": round(time.monotonic() - started, 1), "installed": sorted(installed), "image_copies": image_copies,
        "unfixed_every": unfixed_every,
    }
    current(ImportRun.objects.create(source="bench-synth", origin=str(data), status="done", added=how["advisories"],
                                     rejections=[how]))
    return how


def _copy_advisories(rows) -> None:
    import datetime
    import json

    from django.db import connection

    def when(value):
        return datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00")) if value else None

    with connection.cursor() as cursor:
        with cursor.cursor.copy("copy compliance_advisory (id, source, osv_id, modified, published, withdrawn, "
                                "aliases, summary, record) from stdin") as copy:
            for pk, (source, record, _) in enumerate(rows, start=1):
                copy.write_row((pk, source, record["id"], when(record["modified"]), when(record.get("published")),
                                None, json.dumps(record.get("aliases", [])), record.get("summary", "")[:2000],
                                json.dumps(record)))
        with cursor.cursor.copy("copy compliance_affectedpackage (advisory_id, ecosystem, name, ranges, versions, "
                                "ecosystem_specific, database_specific, severity) from stdin") as copy:
            for pk, (_, _, affected) in enumerate(rows, start=1):
                for a in affected:
                    copy.write_row((pk, a["ecosystem"], a["name"], json.dumps(a["ranges"]), json.dumps(a["versions"]),
                                    json.dumps(a["ecosystem_specific"]), json.dumps(a["database_specific"]),
                                    json.dumps(a["severity"])))
        cursor.execute("select setval(pg_get_serial_sequence('compliance_advisory', 'id'), "
                       "(select max(id) from compliance_advisory))")
        cursor.execute("analyze compliance_advisory")
        cursor.execute("analyze compliance_affectedpackage")


def describe(how: dict) -> str:
    return (f"database: {how['advisories']:,} advisories, {how['affected']:,} affected entries "
            f"({how['debian12']:,} Debian:12, {how['pypi']:,} PyPI), built in {how['seconds']} s by COPY: "
            f"{how['real']:,} real records (DSA/DLA lists, ELTS OSV, PyPA) as they are, {how['image_named']:,} "
            f"Debian:12 per-CVE records for the {len(how['installed'])} real source packages of the images "
            f"(the real-data ones, with 1 in {how['unfixed_every']} made unfixed and 1 in 20 fixed above the "
            f"installed version, plus "
            f"{how['image_copies']} copies of those with an old real fix), "
            f"and {how['copies']} copies of the real Debian (moved to Debian:12) and PyPI records under "
            f"synthetic package names")


# -- the measurement --------------------------------------------------------------------------
def bench_build(digest: str, layer_digests: list[str]):
    """A build of the image, so the scan runs through `image_scan` exactly as after a push."""
    from builds.models import Build, Recipe
    from catalog.models import BaseImage
    from portal.models import Team

    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    base, _ = BaseImage.objects.update_or_create(slug="debian-12", defaults={
        "name": "Debian 12", "repository": IMAGE[0], "tag": IMAGE[1], "digest": digest,
        "layer_digests": layer_digests, "os_family": "debian", "os_release": "12", "approved": True})
    recipe, _ = Recipe.objects.get_or_create(team=team, name="bookworm", defaults={"base": base})
    build, _ = Build.objects.update_or_create(recipe=recipe, team=team, defaults={
        "status": "succeeded", "dockerfile": f"FROM {IMAGE[0]}@{digest}\n", "composition_sha256": "0" * 64,
        "quarantine_repository": IMAGE[0], "quarantine_tag": IMAGE[1], "digest": digest})
    return build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder holding debian-security-tracker/, "
                        "debian-elts-osv/ and pypa-advisory-database/")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--records", type=int, default=200_000, help="advisories in the database, at least")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_SCAN_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--image-copies", type=int, default=4, help="copies of the records naming the image's "
                        "packages (only their real, old fixes): more entries the matcher must evaluate")
    parser.add_argument("--rebuild", action="store_true", help="synthesise the database again")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one scan_match")
    parser.add_argument("--baseline", metavar="REV", help="also time the matcher (compliance/vulndb/matching.py) as it was at this git "
                        "revision, in the same rounds (e.g. 8f0ed0e, before the matcher was reworked)")
    args = parser.parse_args()
    database_create(args.database_url)
    django_setup(args.database_url)

    from adapters.factory import registry_client
    from compliance.models import AffectedPackage
    from compliance.sbom.reader import read_image
    from compliance.scans import image_scan
    from compliance.vulndb.matching import scan_match

    manifest, digest = registry_client("scanner").manifest(*IMAGE)
    facts = read_image(registry_client("scanner"), IMAGE[0], digest)
    installed = {p.source_name or p.name: p.source_version or p.version for p in facts.packages if p.type == "deb"}
    how = synthetic_database(args.data, args.records, installed, image_copies=args.image_copies,
                             rebuild=args.rebuild)
    print(describe(how))
    build = bench_build(digest, [layer["digest"] for layer in manifest["layers"]])

    def download_and_read():
        started = time.perf_counter()
        read_image(registry_client("scanner"), IMAGE[0], digest)
        return time.perf_counter() - started

    def full_scan(match=scan_match):
        started = time.perf_counter()
        scan = image_scan(build=build)
        stored = time.perf_counter()
        findings = match(scan)
        done = time.perf_counter()
        return done - started, stored - started, done - stored, scan, findings

    baseline = module_at(args.baseline, ("compliance/vulndb/matching.py", "compliance/vulndb/matching.py")) if args.baseline else None
    download_and_read(), full_scan()  # warm-up: connections, page cache, imports
    reads, scans, stores, matches, olds = [], [], [], [], []
    for round_number in range(args.rounds):
        if round_number % 2 == 0:
            read = download_and_read()
            total, store, match, scan, findings = full_scan()
        else:
            total, store, match, scan, findings = full_scan()
            read = download_and_read()
        reads.append(read), scans.append(total), stores.append(store), matches.append(match)
        old = f" | baseline scan {olds.append(full_scan(baseline.scan_match)[0]) or olds[-1]:.3f} s" if baseline else ""
        print(f"round {round_number + 1}: download+read {read:.3f} s | scan {total:.3f} s "
              f"(image_scan {store:.3f} s + scan_match {match:.3f} s){old}")
    names = {(p.source_name or p.name) for p in scan.packages.all()}
    candidates = AffectedPackage.objects.filter(ecosystem="Debian:12", name__in=names).count()
    fixable = sum(1 for f in findings if f.fixed_version)
    print(f"image {IMAGE[0]}:{IMAGE[1]}: {scan.packages.count()} packages from {len(names)} source packages; "
          f"{candidates} candidate affected entries evaluated; {len(findings)} findings ({fixable} fixable)")
    read, total = statistics.median(reads), statistics.median(scans)
    print(f"median over {args.rounds} rounds: download+read {read:.3f} s, full scan {total:.3f} s "
          f"(image_scan {statistics.median(stores):.3f} s, scan_match {statistics.median(matches):.3f} s)")
    print(f"ratio full scan / download+read: {total / read:.2f}x (target: under 2x)")
    if baseline:
        old = statistics.median(olds)
        print(f"baseline ({args.baseline}) full scan {old:.3f} s: ratio {old / read:.2f}x")
        full_scan()  # leave today's findings behind
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(scan_match, scan)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    main()
