"""Cross-check our dpkg version ordering against independent implementations on real versions.

    .venv/bin/python bench/crosscheck_dpkg_versions.py /path/to/debian-security-tracker/ \
        [--sample 200000] [--dpkg-sample 3000]

Reads every `[release] - srcpkg version` line of the DSA/DLA lists (`*.list`) under the path,
keeps the distinct versions, sorts them with our key, then compares pairs with:
- univers' DebianVersion (a project dependency, so always there);
- python-debian's debian_support.Version, if it is installed;
- the real `dpkg --compare-versions`, if a dpkg binary is on PATH (one process per pair, so
  only on the sorted neighbours and a smaller random sample).
The pairs are the n-1 neighbours in our sorted order (a sort that disagrees anywhere disagrees
on some neighbour) plus a random sample. It prints pairs compared and disagreements, which
should be 0. No data ships with the project: point it at a copy of the tracker lists.
"""
import argparse
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from univers.versions import DebianVersion  # noqa: E402

from compliance.vulndb.versions import InvalidVersion  # noqa: E402
from compliance.vulndb.versions.dpkg import dpkg_key  # noqa: E402

FIXED_LINE = re.compile(r"^\s+\[[a-z-]+\]\s+-\s+\S+\s+(?P<version>\S+)", re.MULTILINE)


def tracker_versions(path: Path) -> set[str]:
    files = sorted(path.glob("*.list")) if path.is_dir() else [path]
    found = set()
    for list_file in files:
        text = list_file.read_text(encoding="utf-8", errors="replace")
        found.update(m["version"] for m in FIXED_LINE.finditer(text) if not m["version"].startswith("<"))
    return found


def sign(number: int) -> int:
    return (number > 0) - (number < 0)


def ours(a: str, b: str) -> int:
    key_a, key_b = dpkg_key(a), dpkg_key(b)
    return (key_a > key_b) - (key_a < key_b)


def by_univers(a: str, b: str) -> int:
    version_a, version_b = DebianVersion(a), DebianVersion(b)
    return (version_a > version_b) - (version_a < version_b)


def python_debian_comparator():
    try:
        from debian.debian_support import version_compare
    except ImportError:
        return None
    return lambda a, b: sign(version_compare(a, b))


def dpkg_binary_comparator():
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        return None

    def compare(a: str, b: str) -> int:
        for result, operator in ((-1, "lt"), (0, "eq")):
            # dpkg warns on stderr about versions it merely dislikes; the exit code is the answer.
            command = [dpkg, "--compare-versions", a, operator, b]
            if subprocess.run(command, stderr=subprocess.DEVNULL).returncode == 0:
                return result
        return 1

    return compare


def disagreements(name, compare, pairs):
    """Pairs where `compare` disagrees with ours; a pair it cannot read is counted apart."""
    started = time.perf_counter()
    wrong, unreadable, compared = [], set(), 0
    for a, b in pairs:
        try:
            theirs = compare(a, b)
        except ValueError:
            unreadable.update(v for v in (a, b) if _rejects(compare, v))
            continue
        compared += 1
        if theirs != ours(a, b):
            wrong.append((a, b, ours(a, b), theirs))
    elapsed = time.perf_counter() - started
    print(f"{name:>14}: {compared:>8} pairs compared, {len(wrong)} disagreements ({elapsed:.1f} s)"
          + (f"; it cannot read {sorted(unreadable)}" if unreadable else ""))
    for a, b, our_answer, their_answer in wrong[:10]:
        print(f"{'':>16}{a!r} vs {b!r}: ours {our_answer}, theirs {their_answer}")
    return len(wrong)


def _rejects(compare, version: str) -> bool:
    try:
        compare(version, version)
        return False
    except ValueError:
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="folder with DSA.list / DLA.list, or one list file")
    parser.add_argument("--sample", type=int, default=200_000, help="random pairs for the libraries")
    parser.add_argument("--dpkg-sample", type=int, default=3_000, help="random pairs for the dpkg binary")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    versions, rejected = [], []
    for version in sorted(tracker_versions(args.path)):
        try:
            dpkg_key(version)
            versions.append(version)
        except InvalidVersion:
            rejected.append(version)
    print(f"distinct versions: {len(versions) + len(rejected)}, ours rejects {len(rejected)}: {rejected[:10]}")

    ordered = sorted(versions, key=dpkg_key)
    neighbours = list(zip(ordered, ordered[1:]))
    rng = random.Random(args.seed)
    sample = [tuple(rng.sample(versions, 2)) for _ in range(args.sample)]

    total = disagreements("univers", by_univers, neighbours + sample)
    python_debian = python_debian_comparator()
    if python_debian:
        total += disagreements("python-debian", python_debian, neighbours + sample)
    else:
        print(" python-debian: not installed, skipped")
    dpkg = dpkg_binary_comparator()
    if dpkg:
        total += disagreements("dpkg binary", dpkg, neighbours + sample[: args.dpkg_sample])
    else:
        print("   dpkg binary: not on PATH, skipped")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
