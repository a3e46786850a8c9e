"""A build that printed 50 MB: what its page and its live poll cost, windowed (today) and whole.

    .venv/bin/python bench/build_log_page.py [--printed-mb 50] [--line-bytes 120] [--runs 5]

Creates the database `portal_bench_logs` (dropped first, and again at the end unless --keep), one
build whose steps print --printed-mb of --line-bytes lines through the same path the runner uses
(`build_log_append`, 200 lines a chunk, the oldest dropped past BUILD_LOG_MAX_BYTES), then reads,
with Django's test client as a team member, side by side in this run:

- the build page, with the log window of BUILD_LOG_WINDOW_BYTES, and with a window as large as
  the stored log (what every load sent before the window existed);
- a live poll whose cursor is 10 MB of printing behind (a build printing faster than the page
  polls), both ways;
- a permalink to a line in the middle of the stored log.

Printed: HTML bytes and the median time of --runs loads for each, and the ratios whole / windowed.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
URL = "postgres://postgres@127.0.0.1:5432/portal_bench_logs"


def build_with_log(printed_mb: int, line_bytes: int):
    from django.contrib.auth import get_user_model

    from builds.logs import build_log_append
    from builds.models import Build, Recipe
    from catalog.models import BaseImage
    from portal.models import Membership, Team

    member = get_user_model().objects.create_user("alice", password="x")
    team = Team.objects.create(slug="payments", name="Payments")
    Membership.objects.create(user=member, team=team)
    base = BaseImage.objects.create(slug="debian", name="Debian 12", repository="base/debian", tag="bookworm",
                                    digest="sha256:" + "1" * 64, layer_digests=["sha256:" + "2" * 64], approved=True)
    recipe = Recipe.objects.create(team=team, name="noisy", base=base, created_by=member)
    build = Build.objects.create(recipe=recipe, team=team, requested_by=member, status=Build.Status.RUNNING,
                                 dockerfile="FROM base\n", composition_sha256="3" * 64, current_step="build")
    line = "x" * (line_bytes - 1)
    chunks = printed_mb * 1024 * 1024 // (line_bytes * 200)
    seq_at_10mb_behind = None
    for n in range(chunks):
        build_log_append(build=build, step="build", lines=[f"{n:06d}-{i:03d} {line[12:]}" for i in range(200)])
        if (chunks - n) * line_bytes * 200 <= 10 * 1024 * 1024 and seq_at_10mb_behind is None:
            seq_at_10mb_behind = build.log_chunks.order_by("-seq").values_list("seq", flat=True).first()
    build.refresh_from_db()
    return member, build, seq_at_10mb_behind


def timed(client, url: str, runs: int) -> tuple[int, float]:
    sizes, times = set(), []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code in (200, 286), (url, response.status_code)
        sizes.add(len(response.content))
    return max(sizes), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--printed-mb", type=int, default=50)
    parser.add_argument("--line-bytes", type=int, default=120)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    from page_queries import database_create, django_setup

    database_create(URL)
    try:
        django_setup(URL)
        from django.conf import settings
        from django.test import Client, override_settings
        from django.urls import reverse

        started = time.perf_counter()
        member, build, behind = build_with_log(args.printed_mb, args.line_bytes)
        print(f"build printed {args.printed_mb} MB in {time.perf_counter() - started:.1f} s; stored "
              f"{build.log_bytes / 1e6:.1f} MB ({build.log_chunks.count()} chunks, {build.log_dropped_lines} lines dropped)")
        client = Client()
        client.force_login(member)
        page, live = reverse("build-detail", args=[build.pk]), reverse("build-live", args=[build.pk])
        middle = build.log_dropped_lines + (build.log_lines - build.log_dropped_lines) // 2
        urls = {"build page": page, "live poll, 10 MB behind": f"{live}?after={behind}",
                "permalink to a middle line": f"{page}?line={middle}"}
        whole = settings.BUILD_LOG_MAX_BYTES * 2
        print(f"{'':28} {'windowed':>22} {'whole (before)':>22} {'ratio':>14}")
        for name, url in urls.items():
            small = timed(client, url, args.runs)
            with override_settings(BUILD_LOG_WINDOW_BYTES=whole):
                large = timed(client, url, args.runs)
            print(f"{name:28} {small[0] / 1024:8.0f} KB {small[1] * 1000:7.0f} ms {large[0] / 1024:8.0f} KB "
                  f"{large[1] * 1000:7.0f} ms {large[0] / small[0]:6.1f}x {large[1] / small[1]:5.1f}x")
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            database_create(URL, drop_only=True)


if __name__ == "__main__":
    main()
