"""Cross-check our reading of OSV ranges against the records' own `versions` lists.

    .venv/bin/python bench/crosscheck_osv_ranges.py PATH [--ecosystem PyPI]

PATH: a folder of OSV records (JSON or YAML, e.g. the PyPA advisory database's vulns/). For every
`affected` entry of an ecosystem we can order that has both ranges and a `versions` list, each
listed version is evaluated from the ranges alone (the versions list removed): a listed version our
ranges reading calls "not affected" is a miss. Also counted: ranges that re-open at a fix's version,
and package names not spelled as the ecosystem compares them. No data ships with the project.
"""
import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compliance.vulndb.names import package_name  # noqa: E402
from compliance.vulndb.osv_range import osv_affects_safe, reopens_at_a_fix  # noqa: E402


def records(path: Path):
    for file in sorted(path.rglob("*")):
        if file.suffix in (".json", ".yaml", ".yml"):
            text = file.read_text(encoding="utf-8", errors="replace")
            try:
                yield file, (json.loads(text) if file.suffix == ".json" else yaml.safe_load(text))
            except (ValueError, yaml.YAMLError):
                continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--ecosystem", default="PyPI")
    args = parser.parse_args()
    counts, misses = Counter(), []
    for file, record in records(args.path):
        for affected in (record or {}).get("affected") or []:
            package = affected.get("package") or {}
            if package.get("ecosystem") != args.ecosystem:
                continue
            counts["entries"] += 1
            name = package.get("name") or ""
            if package_name(args.ecosystem, name) != name:
                counts["names spelled otherwise"] += 1
            if reopens_at_a_fix(affected.get("ranges")):
                counts["ranges re-opening at a fix"] += 1
            listed = [v for v in affected.get("versions") or [] if isinstance(v, str)]
            if not listed or not affected.get("ranges"):
                continue
            counts["entries checked"] += 1
            for version in listed:
                counts["listed versions"] += 1
                hit, warnings = osv_affects_safe({"ranges": affected["ranges"]}, version, args.ecosystem)
                if warnings:
                    counts["not evaluable"] += 1
                elif not hit:
                    counts["missed"] += 1
                    misses.append(f"{file.name} {name} {version}")
    for key in ("entries", "names spelled otherwise", "ranges re-opening at a fix", "entries checked", "listed versions",
                "not evaluable", "missed"):
        print(f"{key:28s} {counts[key]}")
    for line in misses[:20]:
        print("  missed:", line)


if __name__ == "__main__":
    main()
