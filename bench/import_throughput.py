"""Parse real vulnerability feeds with the vulndb importers: records/second, accepted and
rejected counts per source, rejection reasons grouped, and how the accepted records grade.

    .venv/bin/python bench/import_throughput.py \
        /work/shared/data/vulndb/pypa-advisory-database/vulns \
        /work/shared/data/vulndb/debian-elts-osv/advisories \
        /work/shared/data/vulndb/alpine-secdb \
        /work/shared/data/vulndb/debian-security-tracker/DSA.list \
        /work/shared/data/vulndb/debian-security-tracker/DLA.list

The kind of each path is guessed (a `*.list` is DSA/DLA, a folder or file whose YAML/JSON has
`distroversion` is Alpine secdb, a JSON object without `id` is the tracker export, anything
else is OSV); force it with `KIND=PATH`, KIND one of osv, alpine, tracker, dsa, dla.
No data ships with the project: point it at feeds you have.
"""
import argparse
import datetime
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compliance.vulndb.advisory import Advisory, Rejection  # noqa: E402
from compliance.vulndb.importers.alpine_secdb import read_alpine_secdb  # noqa: E402
from compliance.vulndb.importers.debian_lists import read_debian_lists  # noqa: E402
from compliance.vulndb.importers.debian_tracker import read_debian_tracker  # noqa: E402
from compliance.vulndb.importers.osv import read_osv_source  # noqa: E402
from compliance.vulndb.severity import grade  # noqa: E402

KINDS = ("osv", "alpine", "tracker", "dsa", "dla")
NOW = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def guess_kind(path: Path) -> str:
    if path.suffix == ".list":
        return "dla" if "DLA" in path.name.upper() else "dsa"
    sample = next((p for p in sorted(path.rglob("*")) if p.suffix in (".yaml", ".yml", ".json")), None) \
        if path.is_dir() else path
    if sample is None or sample.suffix == ".zip":
        return "osv"
    head = sample.read_bytes()[:4096].decode("utf-8", "replace")
    if re.search(r"^\s*\"?distroversion\"?\s*:", head, re.MULTILINE):
        return "alpine"
    if sample.suffix == ".json" and path.is_file():
        document = json.loads(sample.read_bytes())
        if isinstance(document, dict) and "id" not in document:
            return "tracker"
    return "osv"


def read(kind: str, path: Path):
    if kind == "osv":
        return read_osv_source(path)
    if kind == "alpine":
        return read_alpine_secdb(path, modified=NOW)
    if kind == "tracker":
        return read_debian_tracker(path, modified=NOW)
    return read_debian_lists(path.read_text(encoding="utf-8"), kind.upper(), origin=str(path))


def reason_group(reason: str) -> str:
    """Rejections that differ only in values, positions or the package named fall in one group."""
    reason = re.sub(r"^[^:'\s]*[\s/][^:']*: ", "", reason)  # "rsync 3.1.2-r7: ", "pkg/CVE-1/sid: "
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
    return re.sub(r"\[\d+\]", "[i]", reason)


def measure(kind: str, path: Path, rounds: int) -> None:
    timings, results = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        results = list(read(kind, path))
        timings.append(time.perf_counter() - started)
    advisories = [r for r in results if isinstance(r, Advisory)]
    rejections = [r for r in results if isinstance(r, Rejection)]
    seconds = statistics.median(timings)
    affected = [a for adv in advisories for a in adv.affected]
    print(f"\n== {kind} {path}")
    print(f"   {len(results)} records in {seconds:.3f} s (median of {rounds}): "
          f"{len(results) / seconds:,.0f} records/s")
    print(f"   accepted {len(advisories)}  rejected {len(rejections)}  affected entries {len(affected)}  "
          f"withdrawn {sum(bool(a.withdrawn) for a in advisories)}  "
          f"unfixed {sum(1 for a in affected if not any('fixed' in e for r in a.ranges for e in r['events']))}  "
          f"with CVSS {sum(1 for a in advisories if any(s.get('type', '').startswith('CVSS') for s in a.severity))}")
    grades = Counter()
    for advisory in advisories:
        for entry in advisory.affected or [None]:
            severity, source = grade(
                vendor_urgency=entry.ecosystem_specific.get("urgency") if entry else None,
                record_severity=(entry.severity if entry and entry.severity else advisory.severity),
                database_specific=advisory.database_specific)
            grades[f"{severity.label}/{source.split(':')[0]}"] += 1
    print("   grades: " + ", ".join(f"{key} {count}" for key, count in grades.most_common()))
    groups = Counter(reason_group(r.reason) for r in rejections)
    examples = {}
    for rejection in rejections:
        examples.setdefault(reason_group(rejection.reason), rejection)
    for group, count in groups.most_common():
        example = examples[group]
        print(f"   {count:6d} x {group}\n            e.g. {example.origin} [{example.record_id}]: {example.reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="PATH or KIND=PATH")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for spec in args.paths:
        kind, _, raw = spec.partition("=") if spec.split("=", 1)[0] in KINDS else ("", "", spec)
        path = Path(raw)
        measure(kind or guess_kind(path), path, args.rounds)


if __name__ == "__main__":
    main()
