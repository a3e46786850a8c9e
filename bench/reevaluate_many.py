"""Time the re-evaluation of many stored SBOMs after an import of changed vulnerability records.

    .venv/bin/python bench/reevaluate_many.py --data /work/shared/data/vulndb --sboms 10000 --changed 1000
    .venv/bin/python bench/reevaluate_many.py --data /work/shared/data/vulndb --sboms 50000 --changed 1000

Setup, built once per --sboms into the template database `portal_bench_reeval_base_<sboms>` and
reused (`--rebuild` starts over; `--rounds 0` builds it and stops): the synthetic database of
bench/scan_vs_download.py (>= 200,000 advisories, its per-CVE Debian:12 records now naming every
source package of the SBOMs), and --sboms builds of --sboms / 4 recipes of 100 teams, each with a
stored SBOM: the real packages of base/debian:bookworm plus 12 to 212 binary packages of real
Debian source packages (those the DSA/DLA/ELTS data name, drawn with a popularity skew so images
overlap), at versions the data knows (half the images current, the others one to three security
updates behind). Each SBOM gets its findings (matched in bulk with the portal's matcher, their
severity counts kept by the triggers of migration 0018) and a verdict (`verdict_evaluate`); the
latest build of each recipe is published. The template takes about 25 minutes for 10,000 SBOMs
(two thirds of it the verdicts), five times that for 50,000.

Each variant of a round copies the template to `portal_bench_reeval` (a file copy, then a
checkpoint: every variant starts from the same state of the server), writes --changed records as
OSV JSON to a temporary folder (updates of existing records picked at random: new fixes above
installed versions, new urgencies, new modification dates only; new unfixed records; records of
packages no image has), imports them with `vulndb_import`, and times
`reevaluate_due()` (as the import commands run it: what the import left owed). The variants, side by side, their order alternating by round:
`triggers` as the portal runs, and `no-triggers` with the severity-count triggers of migration
0018 disabled in that copy (their counts then go stale: only what the triggers cost is measured).
Sizes and counts are printed with the times; `--statements` adds where the database time went
(pg_stat_statements is not loaded on this server), `--profile` a cProfile.
"""
import argparse
import bisect
import contextlib
import datetime
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_vs_download import IMAGE, database_create, django_setup, module_at, real_feeds, synthetic_database, version_above  # noqa: E402

SERVER = "postgres://postgres@127.0.0.1:5432"
NOT_IN_CONTAINERS = ("linux", "chromium", "firefox", "thunderbird", "iceweasel", "icedove", "xen", "qemu", "kde4libs")


def package_pool(debian: list, image_packages) -> dict[str, dict]:
    """Real Debian source packages with the versions the data knows, newest first; the base
    image's packages at the versions it ships."""
    from compliance.vulndb.versions import InvalidVersion, comparator_for

    key = comparator_for("Debian:12")
    versions, records = defaultdict(set), defaultdict(int)
    for advisory in debian:
        for entry in advisory.affected:
            records[entry.name] += 1
            for r in entry.ranges:
                for event in r.get("events", []):
                    if "fixed" in event:
                        versions[entry.name].add(event["fixed"])
    pool = {}
    for name, found in versions.items():
        if name.startswith(NOT_IN_CONTAINERS):
            continue
        try:
            ordered = sorted(found, key=key, reverse=True)
        except InvalidVersion:
            continue
        pool[name] = {"versions": ordered[:4], "records": records[name], "binaries": [name]}
    for package in image_packages:
        source = package.source_name or package.name
        entry = pool.setdefault(source, {"versions": [], "records": records[source], "binaries": []})
        current = package.source_version or package.version
        if not entry.get("base"):
            entry["versions"] = [current] + [v for v in entry["versions"] if key(v) < key(current)][:3]
            entry["base"], entry["binaries"] = True, []
        entry["binaries"].append(package.name)
    return pool


def sbom_plan(pool: dict, scans: int, rng: random.Random) -> list[tuple[int, list[tuple[str, str, str, int]]]]:
    """For each image: (age, [(binary, source, version, layer)]). Age 0 images have current
    versions; age n images are n security updates behind where the data knows older versions."""
    base = [name for name, entry in pool.items() if entry.get("base")]
    # Popularity in a fixed pseudo-random order: the most used libraries are not the ones with the most advisories.
    extras = sorted((n for n, e in pool.items() if not e.get("base")), key=lambda n: zlib.crc32(n.encode()))
    cumulative, total = [], 0.0
    for rank in range(len(extras)):
        total += 1.0 / (rank + 20)  # a popularity skew: some libraries are in most images
        cumulative.append(total)
    plan = []
    for _ in range(scans):
        age = rng.choices((0, 1, 2, 3), weights=(50, 25, 15, 10))[0]
        chosen, wanted = set(), rng.randint(12, 212)
        rows = []
        while len(rows) < wanted:
            name = extras[bisect.bisect(cumulative, rng.random() * total)]
            if name in chosen:
                continue
            chosen.add(name)
            binaries = [name] + [f"lib{name}", f"{name}-common"][:rng.choices((0, 1, 2), weights=(70, 25, 5))[0]]
            rows += [(b, name, None, 1) for b in binaries]
        rows += [(b, name, None, 0) for name in base for b in pool[name]["binaries"]]
        versioned = []
        for binary, source, _, layer in rows:
            known = pool[source]["versions"]
            versioned.append((binary, source, known[min(age, len(known) - 1)], layer))
        plan.append((age, versioned))
    return plan


def copy_rows(table: str, columns: str, rows) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"copy {table} ({columns}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)


def fleet_create(pool: dict, plan: list, facts, digest: str, layer_digests: list[str]) -> dict:
    """Teams, recipes, builds, scans (with facts), SBOM packages, findings and verdicts."""
    from django.db import connection
    from django.utils import timezone

    from builds.models import Build, Recipe
    from catalog.models import BaseImage
    from compliance.models import ImageScan
    from compliance.vulndb.matching import AdvisoryIndex, coordinates
    from portal.models import Team

    base, _ = BaseImage.objects.update_or_create(slug="debian-12", defaults={
        "name": "Debian 12", "repository": IMAGE[0], "tag": IMAGE[1], "digest": digest,
        "layer_digests": layer_digests, "os_family": "debian", "os_release": "12", "approved": True})
    teams = Team.objects.bulk_create([Team(slug=f"team-{i:03d}", name=f"Team {i}") for i in range(100)])
    recipes = Recipe.objects.bulk_create([Recipe(team=teams[i % 100], name=f"image-{i:05d}", base=base)
                                          for i in range((len(plan) + 3) // 4)])
    now = timezone.now()
    builds = Build.objects.bulk_create([
        Build(recipe=recipes[i // 4], team=recipes[i // 4].team, status="succeeded", dockerfile=f"FROM {IMAGE[0]}\n",
              composition_sha256=f"{i:064x}", digest=f"sha256:{i:064x}",
              quarantine_repository=f"quarantine/{recipes[i // 4].team.slug}/{recipes[i // 4].name}",
              published_reference=(f"127.0.0.1:5000/published/{recipes[i // 4].team.slug}/{recipes[i // 4].name}:{i}"
                                   f"@sha256:{i:064x}") if i % 4 == 3 else "",
              published_at=now if i % 4 == 3 else None)
        for i in range(len(plan))], batch_size=2000)
    facts_base = facts.to_dict()
    with connection.cursor() as cursor:
        cursor.execute("select coalesce(max(id), 0) from compliance_imagescan")
        first_scan = cursor.fetchone()[0] + 1
    for chunk in range(0, len(plan), 1000):
        scan_rows, package_rows = [], []
        for number in range(chunk, min(chunk + 1000, len(plan))):
            build, (_age, rows), scan_id = builds[number], plan[number], first_scan + number
            user = "" if number % 10 == 9 else "10001"  # one image in ten still runs as root
            packages = [{"type": "deb", "name": b, "version": v, "source_name": s, "source_version": v,
                         "architecture": "amd64", "layer_index": layer, "path": "var/lib/dpkg/status",
                         "purl": f"pkg:deb/debian/{b}@{v}?arch=amd64&distro=debian-12"} for b, s, v, layer in rows]
            config = {**facts_base["config"], "config": {**facts_base["config"]["config"], "User": user}}
            image_facts = {**facts_base, "digest": build.digest, "repository": build.quarantine_repository,
                           "layer_digests": layer_digests + [f"sha256:{number:064x}"], "packages": packages,
                           "config": config}
            scan_rows.append((scan_id, build.pk, "", build.quarantine_repository, build.digest, "done", "debian",
                              "12", json.dumps(image_facts), b"", "", now, now))
            package_rows += [(scan_id, "deb", b, v, s, v, "amd64", layer) for b, s, v, layer in rows]
        copy_rows("compliance_imagescan", "id, build_id, registry, repository, digest, status, os_id, os_version, "
                  "facts, cyclonedx, error, created, finished", scan_rows)
        copy_rows("compliance_sbompackage", "scan_id, type, name, version, source_name, source_version, "
                  "architecture, layer_index", package_rows)
    with connection.cursor() as cursor:
        cursor.execute("select setval(pg_get_serial_sequence('compliance_imagescan', 'id'), "
                       "(select max(id) from compliance_imagescan))")
        cursor.execute("analyze")
    # Findings as scan_match would store them, matched once per distinct (package, version).
    started = time.monotonic()
    wanted = set()
    for _, rows in plan:
        for _, source, version, _ in rows:
            found = coordinates(os_id="debian", os_version="12", type="deb", name="", version=version,
                                source_name=source, source_version=version)
            wanted.add(((found[0], found[1]), found[2]))
    hits = AdvisoryIndex({pair for pair, _ in wanted}).match(wanted)
    with connection.cursor() as cursor:
        cursor.execute("select id, scan_id, source_name, source_version from compliance_sbompackage")
        findings = ((scan_id, package_id, hit.advisory.pk, hit.vulnerability_id, version, hit.fixed_version,
                     hit.severity, hit.severity_source)
                    for package_id, scan_id, source, version in cursor.fetchall()
                    for hit in hits[(("Debian:12", source), version)])
        copy_rows("compliance_finding", "scan_id, package_id, advisory_id, vulnerability_id, installed_version, "
                  "fixed_version, severity, severity_source", findings)
        cursor.execute("analyze")
    matched = time.monotonic() - started
    print(f"setup: {len(plan):,} SBOMs stored, findings matched and stored in {matched:.0f} s", flush=True)
    return {"findings_seconds": round(matched, 1), "verdicts_seconds": verdicts_create(),
            "scans": ImageScan.objects.count()}


def verdicts_create() -> float:
    """A whole verdict for every build that has none yet (all of them, unless a template build was
    cut short and is resumed); seconds taken."""
    from django.db import connection

    from builds.models import Build
    from compliance.policy.evaluation import verdict_evaluate

    started = time.monotonic()
    builds = (Build.objects.filter(scan__isnull=False, verdicts__isnull=True).select_related("scan", "team", "recipe")
              .order_by("pk"))
    for number, build in enumerate(builds.iterator(500), start=1):
        verdict_evaluate(build=build)
        if number % 1000 == 0:
            print(f"setup: {number:,} verdicts in {time.monotonic() - started:.0f} s", flush=True)
    evaluated = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("analyze")  # as autovacuum would have by the time of the next import
    return round(evaluated, 1)


def changed_records(pool: dict, count: int, rng: random.Random) -> list[dict]:
    """OSV records, a mix like a day of Debian's feed: 60% updates of records naming the
    images' packages (three in four change only metadata: modified date, summary, a reference;
    15% a new urgency; 10% a new fix just above the installed version, urgency high), 20% new
    unfixed CVEs for those packages, 20% records of packages no image has (kernel, desktop)."""
    from compliance.models import Advisory

    existing = list(Advisory.objects.filter(source="osv", osv_id__startswith="DEBIAN-CVE-")
                    .exclude(osv_id__regex=r"-s[0-9]+$").order_by("osv_id").values_list("osv_id", "record"))
    modified = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    records = []
    for number, (osv_id, stored) in enumerate(rng.sample(existing, int(count * 0.6))):
        affected = []
        for entry in stored["affected"]:
            events = entry["ranges"][0]["events"]
            specific = dict(entry.get("ecosystem_specific") or {})
            if number % 20 < 2:
                events = [{"introduced": "0"}, {"fixed": version_above(pool[entry["name"]]["versions"][0])}]
                specific["urgency"] = "high"
            elif number % 20 < 5:
                specific["urgency"] = rng.choice(["low", "medium", "high", "unimportant"])
            affected.append({"package": {"ecosystem": entry["ecosystem"], "name": entry["name"]},
                             "ranges": [{"type": "ECOSYSTEM", "events": events}], "ecosystem_specific": specific})
        references = stored.get("references", []) + [{"type": "WEB", "url": f"https://example.org/{osv_id}"}]
        records.append({"id": osv_id, "modified": modified, "aliases": stored.get("aliases", []),
                        "summary": stored.get("summary", "") + " (updated)", "references": references,
                        "affected": affected})
    names = sorted(pool)
    for number in range(int(count * 0.2)):
        name = rng.choice(names)
        records.append({"id": f"DEBIAN-CVE-2026-{90000 + number}", "modified": modified,
                        "aliases": [f"CVE-2026-{90000 + number}"], "summary": f"{name} issue",
                        "affected": [{"package": {"ecosystem": "Debian:12", "name": name},
                                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                                      "ecosystem_specific": {"urgency": rng.choice(["unimportant", "low", ""])}}]})
    while len(records) < count:
        number = len(records)
        records.append({"id": f"DEBIAN-CVE-2026-{80000 + number}", "modified": modified,
                        "aliases": [f"CVE-2026-{80000 + number}"], "summary": "issue",
                        "affected": [{"package": {"ecosystem": "Debian:12", "name": f"linux-{number}"},
                                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"},
                                                                                  {"fixed": "6.1.99-1"}]}]}]})
    return records


def template_params(url: str) -> dict | None:
    """The parameters a complete template was built with (None: missing or half built)."""
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            row = conn.execute("select rejections from compliance_importrun where source = 'bench-fleet'").fetchone()
    except psycopg.Error:
        return None
    return row[0][0] if row else None


def template_scans(url: str) -> int | None:
    """How many scans a template holds (None: none can be read)."""
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            return conn.execute("select count(*) from compliance_imagescan").fetchone()[0]
    except psycopg.Error:
        return None


def sizes() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("select count(*), min(n), percentile_cont(0.5) within group (order by n), max(n), sum(n) "
                       "from (select count(*) n from compliance_sbompackage group by scan_id) t")
        scans, smallest, median, largest, packages = cursor.fetchone()
        cursor.execute("select count(distinct source_name) from compliance_sbompackage")
        sources = cursor.fetchone()[0]
        cursor.execute("select (select count(*) from compliance_advisory), (select count(*) from "
                       "compliance_affectedpackage), (select count(*) from compliance_finding), "
                       "(select count(*) from compliance_verdict), pg_database_size(current_database())")
        advisories, affected, findings, verdicts, size = cursor.fetchone()
    return locals()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sboms", "--scans", type=int, default=10_000, help="stored SBOMs (10,000; 50,000 for the "
                        "fleet-scale target): each size has a template database of its own")
    parser.add_argument("--changed", type=int, default=1_000)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", default=os.environ.get("BENCH_DATABASE_SERVER", SERVER))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--resume", action="store_true", help="finish a template build cut short while making its "
                        "verdicts (its SBOMs and findings are all stored) instead of starting over")
    parser.add_argument("--profile", action="store_true", help="cProfile the re-evaluation (slower)")
    parser.add_argument("--statements", action="store_true", help="print the database statements the re-evaluation "
                        "spent its time in (count and seconds per statement shape)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the variants (with and without the "
                        "severity-count triggers), their order alternating; medians printed (0: build the template only)")
    parser.add_argument("--triggers-only", action="store_true", help="skip the variant without the triggers")
    parser.add_argument("--baseline", metavar="REV", help="also time compliance/vulndb/reevaluation.py and matching.py as "
                        "they were at this git revision (e.g. 8f0ed0e), on a sample of the scans, extrapolated")
    parser.add_argument("--baseline-sample", type=int, default=40)
    parser.add_argument("--verify", type=int, default=50, metavar="N", help="check N scans afterwards: their findings "
                        "and verdict must equal a whole scan_match and verdict_evaluate (rolled back)")
    args = parser.parse_args()
    # One template per fleet size, so the 10,000 and the 50,000 runs do not rebuild each other's.
    base_name, run_name = f"portal_bench_reeval_base_{args.sboms}", "portal_bench_reeval"
    template = f"{args.server}/{base_name}"
    params = {"scans": args.sboms, "records": args.records, "seed": args.seed, "data": str(args.data), "layout": 4}
    complete = not args.rebuild and template_params(template) == params
    resumed = not complete and args.resume and template_scans(template) == args.sboms
    database_create(template, replace=not complete and not resumed)
    # A complete template stays at the schema it was built with: each run's copy is migrated, so
    # code of another revision (a checkout of it) measures on its own schema, from the same data.
    django_setup(template, migrate=not complete and not resumed)
    from django.core.management import call_command
    from django.db import connections

    from adapters.factory import registry_client
    from compliance.models import ImportRun
    from compliance.sbom.reader import read_image

    manifest, digest = registry_client("scanner").manifest(*IMAGE)
    facts = read_image(registry_client("scanner"), IMAGE[0], digest)
    pool = package_pool(real_feeds(args.data)["debian"], [p for p in facts.packages if p.type == "deb"])
    installed = {name: entry["versions"][0] for name, entry in pool.items()}
    if resumed:  # the SBOMs and findings are there: the verdicts were cut short
        how = synthetic_database(args.data, args.records, installed, image_copies=1, unfixed_every=10)
        print(f"template {base_name} resumed: {verdicts_create():.0f} s for the missing verdicts")
        ImportRun.objects.create(source="bench-fleet", origin="reevaluate_many.py", status="failed", rejections=[params])
    elif not complete:
        started = time.monotonic()
        how = synthetic_database(args.data, args.records, installed, image_copies=1, unfixed_every=10, rebuild=True)
        plan = sbom_plan(pool, args.sboms, random.Random(args.seed))
        fleet = fleet_create(pool, plan, facts, digest, [layer["digest"] for layer in manifest["layers"]])
        # the template is complete; "failed" keeps this row from counting as a database version
        ImportRun.objects.create(source="bench-fleet", origin="reevaluate_many.py", status="failed",
                                 rejections=[params])
        print(f"template built in {time.monotonic() - started:.0f} s (findings {fleet['findings_seconds']} s, "
              f"{args.sboms:,} verdicts {fleet['verdicts_seconds']} s)")
    else:
        how = synthetic_database(args.data, args.records, installed, image_copies=1, unfixed_every=10)
    connections.close_all()
    if args.rounds == 0:
        print(f"template {base_name} ready; no round asked for")
        return
    import logging

    reevaluation_log = logging.getLogger("compliance.vulndb.reevaluation")  # its phases and counts, printed
    reevaluation_log.addHandler(logging.StreamHandler(sys.stdout))
    reevaluation_log.setLevel(logging.INFO)
    reevaluation_log.propagate = False
    target = TARGETS.get(args.sboms)
    variants = ["triggers"] + ([] if args.triggers_only else ["no-triggers"])
    seconds = defaultdict(list)
    for round_ in range(args.rounds):
        for number, variant in enumerate(variants if round_ % 2 == 0 else variants[::-1]):
            database_create(f"{args.server}/{run_name}", template=base_name, replace=True, strategy="file_copy")
            connections["default"].settings_dict["NAME"] = run_name
            call_command("migrate", verbosity=0)
            first = round_ == 0 and number == 0
            if first:
                describe(how, installed)
            print(f"-- round {round_ + 1}, {variant}: the severity-count triggers of migration 0018 "
                  + ("on" if variant == "triggers" else "disabled during the re-evaluation"), flush=True)
            changed = changed_import(pool, args.changed, random.Random(args.seed + 1))
            seconds[variant].append(timed_reevaluation(changed, triggers=variant == "triggers",
                                                       profile=args.profile and variant == "triggers",
                                                       statements=args.statements, target=target))
            if variant == "triggers" and round_ == 0:
                if args.verify:
                    verify(args.verify, random.Random(args.seed + 3))
                if args.baseline:
                    baseline(args.baseline, changed, args.baseline_sample, random.Random(args.seed + 2))
            connections.close_all()
    on = statistics.median(seconds["triggers"])
    print(f"re-evaluation of {args.sboms:,} SBOMs after {args.changed:,} changed records: {on:.1f} s median of "
          f"{len(seconds['triggers'])}" + (f" (target: under {target} s: {'met' if on < target else 'NOT met'})"
                                           if target else ""))
    if "no-triggers" in seconds:
        off = statistics.median(seconds["no-triggers"])
        print(f"severity-count triggers: {on:.1f} s with / {off:.1f} s without = {on / off:.2f}x "
              f"(each: {', '.join(f'{v:.1f}' for v in seconds['triggers'])} / "
              f"{', '.join(f'{v:.1f}' for v in seconds['no-triggers'])} s)")


TARGETS = {10_000: 10, 50_000: 60}  # issue 14: seconds for a re-evaluation after 1,000 changed records


def describe(how: dict, installed: dict) -> None:
    s = sizes()
    print(f"database: {s['advisories']:,} advisories, {s['affected']:,} affected entries "
          f"({how['image_named']:,} Debian:12 per-CVE records name the SBOMs' {len(installed):,} source packages); "
          f"on disk {s['size'] / 2**20:,.0f} MiB")
    print(f"SBOMs: {s['scans']:,} scans, {s['packages']:,} packages (min {s['smallest']}, median {s['median']:.0f}, "
          f"max {s['largest']} per SBOM) from {s['sources']:,} source packages; {s['findings']:,} findings, "
          f"{s['verdicts']:,} verdicts stored", flush=True)
    print(f"server: {server_settings()}")


def changed_import(pool: dict, count: int, rng: random.Random):
    """The same changed records in every variant (same seed), imported as a sync would."""
    from compliance.vulndb.store import vulndb_import

    with tempfile.TemporaryDirectory() as folder:
        for record in changed_records(pool, count, rng):
            Path(folder, f"{record['id']}.json").write_text(json.dumps(record))
        started = time.monotonic()
        import_run, changed = vulndb_import(source="osv", path=folder)
        imported = time.monotonic() - started
    print(f"import of {count:,} records: {imported:.1f} s ({import_run.added} added, {import_run.updated} "
          f"updated, {import_run.rejected} rejected); {len(changed):,} (ecosystem, package) pairs changed")
    return changed


def timed_reevaluation(changed, *, triggers: bool, profile: bool, statements: bool, target: int | None) -> float:
    """`reevaluate_due()`, timed: it re-evaluates `changed`, which the import left owed. Without the
    triggers, their counts go stale (only the bench's own copy of the template, thrown away after the run)."""
    from django.db import connection

    from compliance.models import ReevaluationDue, Verdict
    from compliance.vulndb.reevaluation import reevaluate_due

    owed = {tuple(pair) for pairs in ReevaluationDue.objects.values_list("pairs", flat=True) for pair in pairs}
    assert owed == set(changed), "the import leaves owed exactly what it changed"

    with connection.cursor() as cursor:
        if not triggers:
            cursor.execute("alter table compliance_finding disable trigger user")  # not the foreign keys' (system) ones
        cursor.execute("checkpoint")  # what the import wrote is not flushed during the run
    before = sizes()
    verdicts_before = Verdict.objects.count()
    wal_before = wal_written()
    timing = StatementTimes() if statements else None
    started = time.monotonic()
    with connection.execute_wrapper(timing) if timing else contextlib.nullcontext():
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            counts = profiler.runcall(reevaluate_due)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(70)
        else:
            counts = reevaluate_due()
    seconds = time.monotonic() - started
    wal = [after - before for before, after in zip(wal_before, wal_written())]
    after = sizes()
    print(f"re-evaluation: {seconds:.1f} s" + (f" (target: under {target} s)" if target else "")
          + f": {counts['scans']:,} scans re-matched, {Verdict.objects.count() - verdicts_before:,} verdicts "
          f"re-evaluated; {counts['flipped_to_fail']} turned non-compliant ({counts['alerts']} published: alerted), "
          f"{counts['flipped_to_pass']} compliant again; findings {before['findings']:,} -> {after['findings']:,}",
          flush=True)
    print(f"write-ahead log: {wal[2] / 2**20:,.0f} MiB in {wal[0]:,} records, {wal[1]:,} of them full-page images "
          f"(the server's, this run and anything else meanwhile)")
    if timing:
        timing.print(seconds)
    return seconds


def wal_written() -> tuple[int, int, int]:
    """The server's write-ahead log so far: records, full-page images, bytes (pg_stat_wal)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("select wal_records, wal_fpi, wal_bytes from pg_stat_wal")
        return tuple(int(value) for value in cursor.fetchone())


def server_settings() -> str:
    """The server settings that weigh on a fleet's re-evaluation, as printed with its figures."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("select name, current_setting(name) from pg_settings where name = any(%s) order by name",
                       [list(SETTINGS_SHOWN)])
        return ", ".join(f"{name} {value}" for name, value in cursor.fetchall())


SETTINGS_SHOWN = ("shared_buffers", "max_wal_size", "wal_compression", "synchronous_commit", "work_mem",
                  "checkpoint_timeout")


class StatementTimes:
    """Where the re-evaluation's time goes in the database, as pg_stat_statements would say (it
    is not loaded on this server): each statement, its literals and IN lists folded, timed
    around its execution from this process."""

    def __init__(self):
        self.times = defaultdict(lambda: [0, 0.0])

    def __call__(self, execute, sql, params, many, context):
        started = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = re.sub(r"(%s(, )?)+", "%s, ...", re.sub(r"\s+", " ", str(sql)))[:160]
            self.times[shape][0] += 1
            self.times[shape][1] += time.monotonic() - started

    def print(self, total: float, top: int = 15) -> None:
        spent = sum(seconds for _, seconds in self.times.values())
        print(f"database statements: {spent:.1f} s of {total:.1f} s ({sum(n for n, _ in self.times.values()):,} "
              "executed; COPY not included: it bypasses the wrapper)")
        for shape, (calls, seconds) in sorted(self.times.items(), key=lambda item: -item[1][1])[:top]:
            print(f"  {seconds:6.2f} s {calls:6,}x  {shape}")


def verify(count: int, rng: random.Random) -> None:
    """Findings and verdicts left by the re-evaluation, next to a whole match and evaluation."""
    from django.db import transaction

    from compliance.models import ImageScan
    from compliance.policy.evaluation import verdict_evaluate
    from compliance.vulndb.matching import scan_match

    fields = ("package_id", "advisory_id", "installed_version", "vulnerability_id", "fixed_version", "severity",
              "severity_source")
    chosen = rng.sample(list(ImageScan.objects.values_list("pk", flat=True)), count)
    differ = []
    for scan in ImageScan.objects.filter(pk__in=chosen).select_related("build"):
        stored = sorted(scan.findings.values_list(*fields))
        verdict = scan.build.verdicts.order_by("-created").first()
        with transaction.atomic():
            whole = sorted(tuple(getattr(f, name) for name in fields) for f in scan_match(scan))
            evaluated = verdict_evaluate(build=scan.build, trigger="check")
            transaction.set_rollback(True)
        # Word for word (a verdict names blocking findings in an order of what they say, not of their
        # ids), the evaluated results as stored: tuples read back as lists.
        if stored != whole or (verdict.passed, verdict.results) != (evaluated.passed, json.loads(json.dumps(evaluated.results))):
            differ.append(scan.pk)
    print(f"verified {count} scans against a whole scan_match and verdict_evaluate: "
          + (f"{len(differ)} differ: {differ[:10]}" if differ else "findings and verdicts identical, word for word"))


def baseline(revision: str, changed: set, sample: int, rng: random.Random) -> None:
    """Today's database, re-evaluated as `revision` did it: each scan that names a changed pair
    matched whole, then its whole verdict evaluated. Timed on a sample, extrapolated."""
    from compliance.policy.evaluation import verdict_evaluate

    matching = module_at(revision, ("compliance/vulndb/matching.py", "compliance/vulndb/matching.py"))
    old = module_at(revision, ("compliance/vulndb/reevaluation.py", "compliance/vulndb/reevaluation.py"), scan_match=matching.scan_match,
                    package_coordinates=matching.package_coordinates)
    named = list(old.scans_naming(changed).values_list("pk", flat=True))
    chosen = rng.sample(named, min(sample, len(named)))
    started, kept = time.monotonic(), 0
    for scan in old.scans_naming(changed).filter(pk__in=chosen):
        if not old._names_changed_package(scan, changed):
            continue
        kept += 1
        scan.build.verdicts.order_by("-created").first()
        matching.scan_match(scan)
        verdict_evaluate(build=scan.build, trigger="reevaluation")
    each = (time.monotonic() - started) / len(chosen)
    share = kept / len(chosen)
    print(f"baseline ({revision}): {each:.2f} s per scan named by a changed pair (sample of {len(chosen)}, "
          f"{share:.0%} re-matched); for the {len(named):,} scans: ~{each * len(named):,.0f} s")


if __name__ == "__main__":
    main()
