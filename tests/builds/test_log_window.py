"""The log window: a page or poll sends at most BUILD_LOG_WINDOW_BYTES of a log, the newest text
after its cursor or the text around a line, and counts what it leaves out."""
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from builds.log_window import log_window
from builds.logs import build_log_append
from builds.models import Build

pytestmark = pytest.mark.django_db


def fill(build, chunks: int, lines_per_chunk: int = 10, width: int = 50) -> Build:
    for c in range(chunks):
        build_log_append(build=build, step="build", lines=[f"{c:04d}-{n:03d} " + "x" * (width - 9)
                                                           for n in range(lines_per_chunk)])
    build.refresh_from_db()
    return build


def shown_lines(window) -> list[tuple[int, str]]:
    return [(chunk.first_line + i, text) for chunk in window.chunks for i, text in enumerate(chunk.text.splitlines())]


def test_the_tail_fits_the_budget_and_counts_the_lines_left_out(build, settings):
    settings.BUILD_LOG_WINDOW_BYTES = 2_000
    fill(build, chunks=20)  # 200 lines of 51 characters: 10,200
    window = log_window(build)
    text = sum(len(chunk.text) for chunk in window.chunks)
    assert text <= 2_000 and text > 2_000 - 51 * 2, "whole lines, as many as fit"
    lines = shown_lines(window)
    assert lines[-1] == (200, "0019-009 " + "x" * 41), "the newest line is shown"
    assert [n for n, _ in lines] == list(range(lines[0][0], 201)), "consecutive, numbered as stored"
    assert window.skipped_before == lines[0][0] - 1 and window.skipped_after == 0
    assert window.last_seq == 19


def test_a_poll_sends_what_is_new_after_its_cursor_and_no_more_than_the_budget(build, settings):
    settings.BUILD_LOG_WINDOW_BYTES = 2_000
    fill(build, chunks=3)
    first = log_window(build)
    assert first.skipped_before == 0 and [n for n, _ in shown_lines(first)] == list(range(1, 31))
    assert log_window(build, after=first.last_seq).chunks == [], "nothing new"
    fill(build, chunks=30)  # printed faster than the page polls
    poll = log_window(build, after=first.last_seq)
    lines = shown_lines(poll)
    assert lines[-1][0] == 330 and poll.skipped_before == lines[0][0] - 31
    assert sum(len(chunk.text) for chunk in poll.chunks) <= 2_000


def test_a_single_chunk_bigger_than_the_budget_shows_its_last_lines(build, settings):
    settings.BUILD_LOG_WINDOW_BYTES = 500
    fill(build, chunks=1, lines_per_chunk=100)
    lines = shown_lines(log_window(build))
    assert lines[-1][0] == 100 and len(lines) == 500 // 51 and lines[0] == (92, "0000-091 " + "x" * 41)


def test_a_permalink_window_holds_its_line_and_counts_both_sides(build, settings):
    settings.BUILD_LOG_WINDOW_BYTES = 2_000
    fill(build, chunks=40)  # 400 lines
    window = log_window(build, line=123)
    numbers = [n for n, _ in shown_lines(window)]
    assert 123 in numbers and numbers[0] > 1 and numbers[-1] < 400
    assert window.skipped_before == numbers[0] - 1 and window.skipped_after == 400 - numbers[-1]
    assert window.last_seq == 39, "the live poll goes on from the newest chunk"


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=25),
       budget=st.integers(min_value=60, max_value=3_000), line=st.none() | st.integers(min_value=1, max_value=800))
def test_every_window_is_within_budget_consecutive_and_accounts_for_every_line(build, sizes, budget, line):
    Build.objects.filter(pk=build.pk).update(log_lines=0, log_bytes=0)
    build.log_chunks.all().delete()
    build.refresh_from_db()
    for count in sizes:
        build_log_append(build=build, step="build", lines=["y" * 40] * count)
    build.refresh_from_db()
    window = log_window(build, line=line, max_bytes=budget)
    numbers = [n for n, _ in shown_lines(window)]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert sum(len(chunk.text) for chunk in window.chunks) <= max(budget, 41)
    assert window.skipped_before + len(numbers) + window.skipped_after == sum(sizes)
    if line is not None and line <= sum(sizes):
        assert line in numbers or len(numbers) * 41 > budget // 2


def test_the_page_and_its_poll_send_the_window_and_say_what_they_leave_out(client, build, member, settings):
    from django.urls import reverse

    settings.BUILD_LOG_WINDOW_BYTES = 2_000
    fill(build, chunks=40)  # 400 lines, 20,400 characters
    client.force_login(member)
    page = client.get(reverse("build-detail", args=[build.pk])).content.decode()
    assert 'id="L400"' in page and 'id="L1"' not in page
    shown = page.count('class="line step-build"')
    assert f"… {400 - shown} earlier lines not shown here" in page
    assert 'href="?line=400#L400"' in page, "a line's permalink loads the window around it"

    around = client.get(reverse("build-detail", args=[build.pk]), {"line": "50"}).content.decode()
    assert 'id="L50"' in around and 'id="L400"' not in around and "later lines not shown here" in around

    cursor = build.log_chunks.order_by("seq").values_list("seq", flat=True)[2]  # 37 chunks behind
    poll = client.get(reverse("build-live", args=[build.pk]), {"after": cursor}).content.decode()
    assert 'id="L400"' in poll and 'id="L31"' not in poll and "printed meanwhile not shown here" in poll
    assert len(poll) < 20_000


def test_a_running_build_shows_the_instruction_the_engine_runs_now_not_just_the_step(client, build, member):
    from django.urls import reverse

    Build.objects.filter(pk=build.pk).update(status=Build.Status.RUNNING, current_step="build",
                                             steps={**build.steps, "build": {"status": "running"}})
    build_log_append(build=build, step="build", lines=["Step 1/3 : FROM base", "Step 2/3 : RUN apt-get install -y wget"])
    for n in range(3):  # a long RUN: many chunks of its output after the Step line
        build_log_append(build=build, step="build", lines=[f"Unpacking package {n}-{i} ..." for i in range(20)])
    client.force_login(member)
    poll = client.get(reverse("build-live", args=[build.pk]), {"after": -1}).content.decode()
    assert "<code>Step 2/3 : RUN apt-get install -y wget</code>" in poll
    build_log_append(build=build, step="build", lines=["Step 3/3 : USER app"])
    page = client.get(reverse("build-detail", args=[build.pk])).content.decode()
    assert "<code>Step 3/3 : USER app</code>" in page and "<code>Step 2/3" not in page
    Build.objects.filter(pk=build.pk).update(steps={**build.steps, "build": {"status": "done"}})
    assert "<code>Step 3/3" not in client.get(reverse("build-detail", args=[build.pk])).content.decode()
