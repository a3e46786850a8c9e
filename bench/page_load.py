"""Do the security pages stay fast under load with a million findings? p50/p95 per page at 1 and 20 users.

    .venv/bin/python bench/page_load.py [--images 1000] [--packages 200] [--per-package 5] [--users 1,20] [--reviewers N]
                                        [--duration 15] [--think 0] [--workers 2] [--threads 4] [--keep] [--small]

Creates the database `portal_bench_load` (dropped first, and again at the end unless --keep) and
fills it with page_queries.py's fleet (its functions, imported): --images builds of 50 teams, two
per recipe, each with --packages SBOM packages of --per-package findings (1000 x 200 x 5 =
1,000,000 findings), verdicts, log chunks and an exception per recipe. Then it serves the portal
as `make run` does (deploy/supervisord.conf's gunicorn command: deploy/gunicorn.conf.py,
--workers 2 --threads 4 by default, DEBUG off) on a free port of 127.0.0.1, signs in --reviewers
security reviewers (who see every team; as many as the most users by default) and hands locust
their sessions' cookies: each simulated user is one of them, so a page kept for one (the page
cache keeps pages per user) is not what another is sent.

For each security page, and each number of users in --users, locust runs headless for --duration
seconds (`locust -f bench/page_load.py --headless`, a process of its own: locust patches the
standard library with gevent on import, which this process, holding Django and psycopg, must
not be). Every user asks for the page again as soon as it has the answer (a closed loop; --think
seconds between requests), without redirects: anything but a 200 counts as a failure. Before the
runs each page is read twice per worker (gunicorn picks the worker): templates loaded, the dashboard's list of
the most widespread vulnerabilities read from the findings (as after any change of them) and then
reused, so the figures are for a fleet whose findings do not change meanwhile. Printed per
page: requests, failures, requests per second, p50 and p95 at each number of users (locust rounds
times over 100 ms to two significant digits), and the ratio p95(most users) / p95(1 user). With
more users than the server has threads (8 by default) requests queue, so that ratio shows how
throughput, not a single request, bounds the page. Only loopback is ever addressed; every run
is bounded by --duration. The machine's other work shares its cores with the server, the
database and locust itself: compare figures measured side by side in one run, not across runs.

--small (20 builds x 20 packages x 2 findings, 3 s a run) checks that the whole of it works.
"""
import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL = "postgres://postgres@127.0.0.1:5432/portal_bench_load"

if "locust" in sys.modules:  # loaded by `locust -f bench/page_load.py`: the simulated reviewer
    from locust import HttpUser, constant, task

    class SecurityReviewer(HttpUser):
        wait_time = constant(float(os.environ.get("PAGE_LOAD_THINK", "0")))
        started = 0

        def on_start(self):  # each simulated user signed in as a reviewer of their own, in turn
            cookies = os.environ["PAGE_LOAD_COOKIES"].split(",")
            self.client.cookies.set(os.environ["PAGE_LOAD_COOKIE_NAME"], cookies[SecurityReviewer.started % len(cookies)])
            SecurityReviewer.started += 1

        @task
        def page(self):
            with self.client.get(os.environ["PAGE_LOAD_PATH"], name="page", allow_redirects=False,
                                 catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fleet_fill(args):
    """The fleet of page_queries.py; returns ((the session cookie's name, each reviewer's session), page paths)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse
    from page_queries import fleet_grow, fleet_setup, page_urls

    reviewer, member, teams, advisory_ids = fleet_setup()
    builds = fleet_grow(teams=teams, member=member, reviewer=reviewer, recipes=args.images // 2, start=0,
                        advisory_ids=advisory_ids, packages=args.packages, per_package=args.per_package)
    target = builds[1]  # a current (latest) build: its report, and the CVE page lists it
    known = page_urls(target)
    paths = {"security dashboard": known["security dashboard"], "current images": reverse("fleet-images"),
             "CVE impact": known["CVE impact"], "image report": known["image report"],
             "scanner comparison": reverse("image-report-compare", args=[target.pk]),
             "exceptions, pending": known["exceptions, pending"]}
    from django.contrib.auth import get_user_model

    from portal.models import GlobalRole

    reviewers = [reviewer] + [get_user_model().objects.create_user(f"reviewer-{n}", password="x")
                              for n in range(1, args.reviewers)]
    GlobalRole.objects.bulk_create([GlobalRole(user=r, kind=GlobalRole.Kind.SECURITY_REVIEWER) for r in reviewers[1:]])
    name, values = settings.SESSION_COOKIE_NAME, []
    for user in reviewers:
        client = Client()
        client.force_login(user)  # a session row the server reads like any other
        values.append(client.cookies[name].value)
    return (name, values), paths


def server_start(args, port: int, log, *, cached: bool) -> subprocess.Popen:
    """gunicorn as deploy/supervisord.conf runs it (no access log: it would cost the server time),
    its pages kept while their data does not change (portal/page_cache) or not."""
    env = {**os.environ, "DATABASE_URL": args.database, "DEBUG": "False", "PYTHONPATH": str(ROOT),
           "PAGE_CACHE_SECONDS": "60" if cached else "0", "CONN_MAX_AGE": "300"}  # as supervisord.conf's web program
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "portal.wsgi:application", "--config", str(ROOT / "deploy/gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers), "--threads", str(args.threads),
         "--timeout", "120", "--error-logfile", "-"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; its log: {log.name}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"gunicorn did not answer /healthz within 60 s; its log: {log.name}")


def warm(base: str, cookie, paths: dict, rounds: int) -> None:
    """Each worker loads the templates and the database its plans before anything is timed."""
    for path in paths.values():
        for _ in range(rounds):
            request = urllib.request.Request(base + path, headers={"Cookie": f"{cookie[0]}={cookie[1][0]}"})
            with urllib.request.urlopen(request, timeout=120) as answer:
                if answer.status != 200 or "/login" in answer.url:
                    raise SystemExit(f"{path}: HTTP {answer.status} at {answer.url}: not signed in or failing")
                answer.read()


def locust_run(args, base: str, cookie, path: str, users: int, folder: Path) -> dict:
    """One headless locust run against one page; its aggregated stats row."""
    prefix = folder / f"run-{time.monotonic_ns()}"
    env = {**os.environ, "PAGE_LOAD_PATH": path, "PAGE_LOAD_COOKIE_NAME": cookie[0], "PAGE_LOAD_COOKIES": ",".join(cookie[1]),
           "PAGE_LOAD_THINK": str(args.think)}
    with open(folder / "locust.log", "a") as log:
        subprocess.run([str(ROOT / ".venv/bin/locust"), "-f", __file__, "--headless", "--host", base, "--users",
                        str(users), "--spawn-rate", str(users), "--run-time", f"{args.duration}s", "--stop-timeout", "10",
                        "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
                       env=env, cwd=ROOT, check=False, timeout=args.duration + 90, stdout=log, stderr=subprocess.STDOUT)
    with open(f"{prefix}_stats.csv") as stats:
        return next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="builds (two per recipe)")
    parser.add_argument("--packages", type=int, default=200)
    parser.add_argument("--per-package", type=int, default=5)
    parser.add_argument("--users", default="1,20", help="numbers of concurrent users, comma-separated")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each locust run")
    parser.add_argument("--think", type=float, default=0, help="seconds a user waits between requests")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (make run: 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (make run: 4)")
    parser.add_argument("--database", default=URL, help="a database URL whose name contains 'bench' (it is dropped)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reviewers", type=int, default=0, help="reviewers signed in (default: the most users)")
    parser.add_argument("--cache", default="on,off", help="served with the page cache on, off, or both in turn")
    parser.add_argument("--small", action="store_true", help="a quick end-to-end check: 20 x 20 x 2 findings, 3 s runs")
    args = parser.parse_args()
    if args.small:
        args.images, args.packages, args.per_package, args.duration = 20, 20, 2, 3
    if "bench" not in args.database.rsplit("/", 1)[-1]:
        parser.error("the database is dropped: its name must contain 'bench'")
    users = [int(n) for n in args.users.split(",")]
    args.reviewers = args.reviewers or max(users)
    variants = [v for v in args.cache.split(",") if v in ("on", "off")] or parser.error("--cache: on, off or on,off")

    sys.path.insert(0, str(ROOT / "bench"))
    from page_queries import database_create, django_setup

    database_create(args.database)
    django_setup(args.database)
    from django.db import connections

    folder = Path(tempfile.mkdtemp(prefix="page_load-"))
    log = open(folder / "gunicorn.log", "w")
    server, results = None, {}
    try:
        started = time.perf_counter()
        cookie, paths = fleet_fill(args)
        filled = time.perf_counter() - started
        from compliance.models import Finding

        findings = Finding.objects.count()
        connections.close_all()
        for variant in variants:
            port = free_port()
            server = server_start(args, port, log, cached=variant == "on")
            base = f"http://127.0.0.1:{port}"
            warm(base, cookie, paths, rounds=args.workers * 2)
            for name, path in paths.items():
                for n in users:
                    results[(variant, name, n)] = locust_run(args, base, cookie, path, n, folder)
            server.terminate()
            server.wait(timeout=30)
            server = None
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        log.close()
        if not args.keep:
            connections.close_all()
            database_create(args.database, drop_only=True)

    print(f"findings: {findings:,}; {args.images} builds of 50 teams; filled in {filled:.0f} s; gunicorn "
          f"{args.workers} workers x {args.threads} threads, DEBUG off; {args.duration} s per run, think {args.think:g} s; "
          f"locust's files and the server's log: {folder}")
    top = max(users)
    print(f"{'page':22} {'cache':>5} {'users':>5} {'requests':>9} {'failures':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7}")
    for name in paths:
        for variant in variants:
            for n in users:
                row = results[(variant, name, n)]
                print(f"{name:22} {variant:>5} {n:>5} {row['Request Count']:>9} {row['Failure Count']:>8} "
                      f"{float(row['Requests/s']):>7.1f} {row['50%']:>7} {row['95%']:>7}")
        for variant in variants:
            low, high = results[(variant, name, min(users))]["95%"], results[(variant, name, top)]["95%"]
            if low not in ("", "N/A") and high not in ("", "N/A") and float(low) > 0:
                print(f"{'':22} cache {variant}: p95({top} users) / p95({min(users)} user{'s' if min(users) > 1 else ''})"
                      f" = {float(high) / float(low):.1f}x")
        if len(variants) == 2:
            on, off = results[("on", name, top)]["95%"], results[("off", name, top)]["95%"]
            if on not in ("", "N/A") and off not in ("", "N/A") and float(on) > 0:
                print(f"{'':22} p95 at {top} users, cache off / on = {float(off) / float(on):.1f}x")
    if any(int(row["Failure Count"]) for row in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
