"""Issue 14, item 5: the memory a worker process spends on one base's package lists, in-memory index vs
the host's store file (builds/runner/apt_index.py), and the time of a transaction's lists in each.

Debian 12's real lists (bookworm, -updates, -security; amd64) are fetched once through the worker's own
path (`apt-get update` in a throw-away container of the base, through the build proxy and its package
cache), or read from --archive. Each figure comes from a fresh Python process (Django set up, apt_index
imported) that measures its own RSS (psutil) before and after getting the index, with the index still
referenced, and its peak RSS above the start (VmHWM of /proc/self/status; the archive and the decoded text
count there):
  in memory      index_from_tar: every stanza parsed into Python objects, as each worker process did
                 (its peak is lower than before the store: the lists are now decoded a stanza at a time;
                 decoding whole files first, as before, peaked at about +397 MB here);
  store, writer  index_for on an empty store directory: the process that fetches first parses the
                 stanzas one batch at a time into the SQLite file (its fetch gives the saved archive);
  store, reader  index_for once that file exists: what every other worker process of the host pays.
Each process then times lists_for for a few composer transactions (wget; curl tzdata; ca-certificates;
default-jre-headless), --repeat times each, and prints a digest of their output: the three digests must
be equal (the layer cache keys on these bytes). The forms run one after the other in the same run.

    .venv/bin/python bench/apt_index_memory.py [--archive lists.tar] [--keep-archive lists.tar] [--repeat 20]

Needs the base image in the registry (scripts/make-base-images.sh) and the build network and package
cache (scripts/ensure-services.sh) unless --archive is given.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

BASE = os.environ.get("PORTAL_REGISTRY", "127.0.0.1:5000") + "/base/debian:bookworm"
TRANSACTIONS = [["wget"], ["curl", "tzdata"], ["ca-certificates"], ["default-jre-headless"]]
TARGET_MB = 50


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """The highest RSS this process has had (VmHWM): what parsing cost at its peak, even if freed since."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def child(form: str, archive: str, directory: str, repeat: int) -> None:
    """One measurement, in this fresh process; prints a JSON line."""
    import gc

    import django

    django.setup()
    from builds.runner import apt_index

    def saved_archive(base, proxy):
        return Path(archive).read_bytes()

    def no_fetch(base, proxy):
        raise SystemExit("the reader fetched: the store file was not used")

    gc.collect()
    before = rss_mb()
    started = time.monotonic()
    if form == "memory":
        data = Path(archive).read_bytes()
        index = apt_index.index_from_tar(data)
        del data  # a worker drops the archive too; only the index stays
    else:
        index = apt_index.index_for(BASE, proxy="", max_age=3600, directory=Path(directory),
                                    fetch=saved_archive if form == "writer" else no_fetch)
    load_seconds = time.monotonic() - started
    digest = hashlib.sha256()
    for names in TRANSACTIONS:  # once, so the measured RSS includes what a first transaction touches
        for path, data in apt_index.lists_for(index, names).items():
            digest.update(path.encode() + b"\0" + data + b"\0")
    gc.collect()
    gained, peak = rss_mb() - before, peak_rss_mb() - before
    started = time.monotonic()
    for _ in range(repeat):
        for names in TRANSACTIONS:
            apt_index.lists_for(index, names)
    per_call = (time.monotonic() - started) / (repeat * len(TRANSACTIONS))
    print(json.dumps({"form": form, "rss_gained_mb": gained, "peak_gained_mb": peak, "load_seconds": load_seconds, "lists_for_seconds": per_call,
                      "digest": digest.hexdigest(), "still_referenced": index is not None}))


def measure(form: str, archive: str, directory: str, repeat: int) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", form, "--archive", archive, "--directory", directory,
                             "--repeat", str(repeat)], check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def archive_fetch(path: str) -> None:
    import django

    django.setup()
    from builds.runner.apt_index import lists_archive

    started = time.monotonic()
    data = lists_archive(BASE)
    Path(path).write_bytes(data)
    print(f"fetched {BASE}'s lists through the build proxy: {len(data) / 2**20:.1f} MB archive in "
          f"{time.monotonic() - started:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", help="the fetch container's lists archive (tar); default: fetch it now")
    parser.add_argument("--keep-archive", help="where to keep the fetched archive for later runs")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.archive, args.directory, args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-apt-index-") as workdir:
        archive = args.archive or args.keep_archive or str(Path(workdir, "lists.tar"))
        if not args.archive:
            archive_fetch(archive)
        store = str(Path(workdir, "store"))
        results = {form: measure(form, archive, store, args.repeat) for form in ("memory", "writer", "reader")}
        [store_file] = Path(store).glob("*.sqlite3")
        print(f"store file on disk (once per host and base): {store_file.stat().st_size / 2**20:.1f} MB")
    names = {"memory": "in memory (before)", "writer": "store, writer process", "reader": "store, reader process"}
    for form, result in results.items():
        print(f"{names[form]:24s} RSS +{result['rss_gained_mb']:6.1f} MB (peak +{result['peak_gained_mb']:6.1f} MB)   index ready in {result['load_seconds']:5.2f} s   "
              f"lists_for {result['lists_for_seconds'] * 1000:6.2f} ms per transaction")
    memory, reader, writer = results["memory"], results["reader"], results["writer"]
    print(f"RSS per process: in memory / store reader {memory['rss_gained_mb'] / max(reader['rss_gained_mb'], 0.1):.1f}x; "
          f"reader {reader['rss_gained_mb']:.1f} MB, writer {writer['rss_gained_mb']:.1f} MB (target < {TARGET_MB} MB)")
    print(f"lists_for time: store / in memory {reader['lists_for_seconds'] / memory['lists_for_seconds']:.2f}x")
    same = len({result["digest"] for result in results.values()}) == 1
    print(f"lists_for output identical in the three forms: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
