"""Time the portal's scan of a Debian image against a large vulnerability database next to the
time it takes just to download and read the image's layers from the local registry.

    .venv/bin/python bench/scan_vs_download.py --data /work/shared/data/vulndb --rounds 7

(a) `read_image` alone on base/debian:bookworm (download + read every layer: packages, users,
secrets; no layer record used); (b) the scan path of a build: `image_scan` (the same read, then
the SBOM rows stored) followed by `scan_match` against the database, COLD: no layer record in the
database, so every layer is downloaded, read and recorded. Then the same two on a derived image,
base/debian with one small layer of its own (a package installed, an application's files; pushed
as bench/debian-app:latest), (c) download+read of all its layers and (d) its scan WARM: the base's
layers were scanned before (by (b)), so only its own layer is downloaded and read, the base's
records replayed (compliance/sbom/layer_record.py). (e), next to (b): the same scan keeping and
using no record, as before records existed, so what recording costs shows in the same run. Rounds
rotate the order within each group, so machine noise hits all alike; the medians and the ratios
b/a (cold), d/c (warm) and b/e are printed. `--baseline REV` adds, to
each round, the scan path with compliance/vulndb/matching.py as it was at that git revision (e.g.
8f0ed0e); `--profile` prints a cProfile of one `scan_match` and of one warm scan.

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
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
IMAGE = ("base/debian", "bookworm")
DERIVED = ("bench/debian-app", "latest")


def database_create(url: str, *, template: str | None = None, replace: bool = False, strategy: str | None = None) -> None:
    """Create the database `url` names if it is missing (from `template` when given, copied by
    `strategy`: file_copy writes no WAL for a large template, so no checkpoint runs after)."""
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [name]).fetchone()
        if exists and replace:
            conn.execute(f'drop database "{name}" with (force)')
            exists = None
        if not exists:
            conn.execute(f'create database "{name}"' + (f' template "{template}"' if template else "")
                         + (f" strategy {strategy}" if strategy else ""))


def django_setup(url: str, *, migrate: bool = True) -> None:
    os.environ["DATABASE_URL"] = url  # overridden, never defaulted: keep the bench rows out of the dev database
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    if migrate:
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
def bench_build(*, name: str, repository: str, tag: str, digest: str, base_digest: str, base_layers: list[str]):
    """A build of the image on base/debian, so the scan runs through `image_scan` exactly as after a push."""
    from builds.models import Build, Recipe
    from catalog.models import BaseImage
    from portal.models import Team

    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    base = BaseImage.objects.filter(slug="debian-12").first() or BaseImage(slug="debian-12")
    base.name, base.repository, base.tag, base.digest, base.layer_digests = "Debian 12", IMAGE[0], IMAGE[1], base_digest, base_layers
    base.os_family, base.os_release, base.approved = "debian", "12", True
    base.save()
    recipe, _ = Recipe.objects.get_or_create(team=team, name=name, defaults={"base": base})
    build, _ = Build.objects.update_or_create(recipe=recipe, team=team, defaults={
        "status": "succeeded", "dockerfile": f"FROM {IMAGE[0]}\n", "composition_sha256": "0" * 64,
        "quarantine_repository": repository, "quarantine_tag": tag, "digest": digest})
    return build


def app_layer(base_files: dict) -> bytes:
    """What an option adds to the base, as a layer: a package installed (the dpkg database rewritten,
    its file list, its 200 KB program), an account, an application's files. The same bytes every run."""
    import random
    import tarfile

    status = base_files["var/lib/dpkg/status"].data.rstrip(b"\n") + (
        b"\n\nPackage: app-tool\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n"
        b"Version: 1.0-1\nDescription: the application's helper\n")
    files = {
        "var/lib/dpkg/status": status,
        "var/lib/dpkg/info/app-tool.list": b"/.\n/usr\n/usr/bin\n/usr/bin/app-tool\n",
        "usr/bin/app-tool": b"\x7fELF" + random.Random(7).randbytes(200_000),
        "etc/passwd": base_files["etc/passwd"].data + b"app:x:10001:10001::/app:/bin/sh\n",
        "app/config.yaml": b"listen: 0.0.0.0:8080\nlog_level: info\n",
        "app/run.sh": b"#!/bin/sh\nexec /usr/bin/app-tool --config /app/config.yaml\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o755 if path.endswith(("app-tool", ".sh")) else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def derived_image_push(base_digest: str) -> tuple[str, list[str]]:
    """Push base/debian plus `app_layer` as DERIVED (the base's blobs mounted): its digest and layers."""
    import gzip
    import hashlib
    import json

    from adapters.factory import registry_client
    from compliance.sbom.layers import merge_layers

    client = registry_client("curator")
    manifest, _ = client.manifest(IMAGE[0], base_digest)
    config = json.loads(client.blob(IMAGE[0], manifest["config"]["digest"]))
    wanted = {"var/lib/dpkg/status", "etc/passwd"}.__contains__
    streams = [client.open_blob(IMAGE[0], layer["digest"]) for layer in manifest["layers"]]
    layer = app_layer(merge_layers(streams, wanted))
    for stream in streams:
        stream.close()
    blob = gzip.compress(layer, mtime=0)
    for base_layer in manifest["layers"]:
        client.mount_blob(DERIVED[0], base_layer["digest"], IMAGE[0])
    config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(layer).hexdigest())
    config.setdefault("history", []).append({"created_by": "/bin/sh -c apt-get install -y app-tool"})
    config_bytes = json.dumps(config).encode()
    derived = {**manifest,
               "config": {**manifest["config"], "size": len(config_bytes),
                          "digest": client.upload_blob(DERIVED[0], config_bytes)},
               "layers": manifest["layers"] + [{**manifest["layers"][-1], "size": len(blob),
                                                "digest": client.upload_blob(DERIVED[0], blob)}]}
    digest = client.put_manifest(DERIVED[0], DERIVED[1], derived, manifest.get("mediaType") or MANIFEST_TYPE)
    return digest, [entry["digest"] for entry in derived["layers"]]


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
    from compliance import scans as scans_module
    from compliance.models import AffectedPackage, ScannedLayer
    from compliance.sbom.reader import read_image
    from compliance.scans import image_scan
    from compliance.vulndb.matching import scan_match

    manifest, digest = registry_client("scanner").manifest(*IMAGE)
    facts = read_image(registry_client("scanner"), IMAGE[0], digest)
    installed = {p.source_name or p.name: p.source_version or p.version for p in facts.packages if p.type == "deb"}
    how = synthetic_database(args.data, args.records, installed, image_copies=args.image_copies,
                             rebuild=args.rebuild)
    print(describe(how))
    base = {"base_digest": digest, "base_layers": [layer["digest"] for layer in manifest["layers"]]}
    build = bench_build(name="bookworm", repository=IMAGE[0], tag=IMAGE[1], digest=digest, **base)
    derived_digest, derived_layers = derived_image_push(digest)
    derived_build = bench_build(name="bookworm-app", repository=DERIVED[0], tag=DERIVED[1], digest=derived_digest, **base)

    # CPU seconds of this process per measurement: the machine may be shared, and other processes'
    # load stretches wall times unevenly (this excludes the registry's and PostgreSQL's own work).
    cpu = {"read": [], "cold": [], "derived read": [], "warm": []}

    def download_and_read(repository, reference, cpu_key="read"):
        started, started_cpu = time.perf_counter(), time.process_time()
        read_image(registry_client("scanner"), repository, reference)
        cpu[cpu_key].append(time.process_time() - started_cpu)
        return time.perf_counter() - started

    def full_scan(build, match=scan_match, cpu_key=None):
        started, started_cpu = time.perf_counter(), time.process_time()
        scan = image_scan(build=build)
        stored = time.perf_counter()
        findings = match(scan)
        done = time.perf_counter()
        if cpu_key:
            cpu[cpu_key].append(time.process_time() - started_cpu)
        return done - started, stored - started, done - stored, scan, findings

    def cold_scan(match=scan_match):
        ScannedLayer.objects.all().delete()  # no layer seen before
        return full_scan(build, match, cpu_key="cold")

    def warm_scan():
        assert ScannedLayer.objects.filter(digest__in=derived_layers[:-1]).count() == len(derived_layers) - 1
        ScannedLayer.objects.filter(digest=derived_layers[-1]).delete()  # its own layer is new
        return full_scan(derived_build, cpu_key="warm")

    def unrecorded_scan():
        """The scan as it was before layer records: every layer read, no record kept or used."""
        reads_records = scans_module.read_image
        scans_module.read_image = lambda client, repository, reference, records=None: reads_records(
            client, repository, reference)
        try:
            return full_scan(build)
        finally:
            scans_module.read_image = reads_records

    def in_turn(round_number, *calls):
        """The calls' results, run in an order that rotates with the round."""
        results = [None] * len(calls)
        for step in range(len(calls)):
            which = (round_number + step) % len(calls)
            results[which] = calls[which]()
        return results

    baseline = module_at(args.baseline, ("compliance/vulndb/matching.py", "compliance/vulndb/matching.py")) if args.baseline else None
    # Warm-up: connections, page cache, imports.
    download_and_read(IMAGE[0], digest), cold_scan(), download_and_read(DERIVED[0], derived_digest), warm_scan()
    for measured in cpu.values():
        measured.clear()
    reads, scans, stores, matches, olds, unrecorded = [], [], [], [], [], []
    derived_reads, warm_scans, warm_stores = [], [], []
    for round_number in range(args.rounds):
        read, (total, store, match, scan, findings), (plain, *_) = in_turn(
            round_number, lambda: download_and_read(IMAGE[0], digest), cold_scan, unrecorded_scan)
        reads.append(read), scans.append(total), stores.append(store), matches.append(match), unrecorded.append(plain)
        derived_read, (warm, warm_store, warm_match, _, _) = in_turn(
            round_number, lambda: download_and_read(DERIVED[0], derived_digest, "derived read"), warm_scan)
        derived_reads.append(derived_read), warm_scans.append(warm), warm_stores.append(warm_store)
        old = f" | baseline scan {olds.append(cold_scan(baseline.scan_match)[0]) or olds[-1]:.3f} s" if baseline else ""
        print(f"round {round_number + 1}: download+read {read:.3f} s | cold scan {total:.3f} s "
              f"(image_scan {store:.3f} s + scan_match {match:.3f} s; without records {plain:.3f} s){old} || "
              f"derived: download+read {derived_read:.3f} s | warm scan {warm:.3f} s "
              f"(image_scan {warm_store:.3f} s + scan_match {warm_match:.3f} s)")
    names = {(p.source_name or p.name) for p in scan.packages.all()}
    candidates = AffectedPackage.objects.filter(ecosystem="Debian:12", name__in=names).count()
    fixable = sum(1 for f in findings if f.fixed_version)
    print(f"image {IMAGE[0]}:{IMAGE[1]}: {scan.packages.count()} packages from {len(names)} source packages; "
          f"{candidates} candidate affected entries evaluated; {len(findings)} findings ({fixable} fixable)")
    records = ScannedLayer.objects.filter(digest__in=derived_layers)
    print(f"derived {DERIVED[0]}:{DERIVED[1]}: {len(derived_layers)} layers; layer records "
          f"{', '.join(f'{r.digest[7:19]} {r.size / 1024:.0f} KiB' for r in records)}")
    read, total = statistics.median(reads), statistics.median(scans)
    print(f"median over {args.rounds} rounds: download+read {read:.3f} s, full scan {total:.3f} s "
          f"(image_scan {statistics.median(stores):.3f} s, scan_match {statistics.median(matches):.3f} s)")
    print(f"ratio full scan / download+read: {total / read:.2f}x (target: under 2x)")
    plain = statistics.median(unrecorded)
    print(f"what recording costs: cold scan {total:.3f} s / the same scan keeping no record {plain:.3f} s = "
          f"{total / plain:.2f}x; without records {plain / read:.2f}x download+read")
    derived_read, warm = statistics.median(derived_reads), statistics.median(warm_scans)
    print(f"cold image (no layer seen before): scan {total:.3f} s / download+read {read:.3f} s = {total / read:.2f}x "
          f"(target <= 1.1x) | derived image, base layers seen before: scan {warm:.3f} s "
          f"(image_scan {statistics.median(warm_stores):.3f} s) / download+read {derived_read:.3f} s = "
          f"{warm / derived_read:.2f}x (target <= 0.3x)")
    median_cpu = {key: statistics.median(values) for key, values in cpu.items()}
    print(f"CPU of this process (medians): cold {median_cpu['cold']:.3f} s / read {median_cpu['read']:.3f} s = "
          f"{median_cpu['cold'] / median_cpu['read']:.2f}x | warm {median_cpu['warm']:.3f} s / derived read "
          f"{median_cpu['derived read']:.3f} s = {median_cpu['warm'] / median_cpu['derived read']:.2f}x")
    if baseline:
        old = statistics.median(olds)
        print(f"baseline ({args.baseline}) full scan {old:.3f} s: ratio {old / read:.2f}x")
        cold_scan()  # leave today's findings behind
    if args.profile:
        for label, call in (("scan_match", lambda: scan_match(scan)), ("warm scan", warm_scan)):
            profiler = cProfile.Profile()
            profiler.runcall(call)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            print(f"-- profile of one {label}\n{out.getvalue()}")


if __name__ == "__main__":
    main()
