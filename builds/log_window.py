"""What a build page and its live poll send of a log: a window of at most BUILD_LOG_WINDOW_BYTES.

A build may print tens of megabytes (the stored log keeps its last BUILD_LOG_MAX_BYTES) and print
them faster than a page polls: sending all of it made the page 10 MB of HTML and each poll as
much. The window is the newest text after the poll's cursor, or the text around one line (a
permalink `?line=N`); what it leaves out is counted, so the page can say so and link the raw log.
Chunk sizes are read first and only the chosen chunks' text is loaded: the cost does not grow
with the log.
"""
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models.functions import Length

from builds.models import Build, BuildLogChunk


@dataclass(frozen=True)
class ShownChunk:
    """A stored chunk as shown: whole, or the oldest one of a window cut to its last lines."""

    seq: int
    first_line: int
    step: str
    text: str


@dataclass(frozen=True)
class LogWindow:
    chunks: list[ShownChunk]
    skipped_before: int  # lines after the cursor (or the start of what is stored) before the first shown one
    skipped_after: int  # lines after the last shown one that a window around a line leaves out
    last_seq: int  # the cursor the next poll continues from


def log_window(build: Build, *, after: int = -1, line: int | None = None, max_bytes: int | None = None) -> LogWindow:
    """The newest text after the cursor `after` (chunk seq; -1: the whole log), or with `line`,
    the lines around that line number, in at most `max_bytes` of log text."""
    budget = max_bytes or settings.BUILD_LOG_WINDOW_BYTES
    rows = list(BuildLogChunk.objects.filter(build=build, seq__gt=after).order_by("seq")
                .annotate(size=Length("text")).values_list("seq", "first_line", "size"))
    if not rows:
        return LogWindow([], 0, 0, after)
    if line is not None:
        return _around(build, rows, line, budget)
    chunks = _chunks(build, rows[_start_within(rows, len(rows), budget):])
    if not chunks:  # dropped by the size cap between the two reads
        return LogWindow([], 0, 0, rows[-1][0])
    newer = sum(len(chunk.text) for chunk in chunks[1:])
    if len(chunks[0].text) + newer > budget:
        # the oldest chunk's last lines that fit; none when a newer chunk is shown (the newest
        # chunk alone keeps its last line, however long)
        cut = _tail(chunks[0], budget - newer, at_least_one=len(chunks) == 1)
        chunks = ([cut] if cut.text else []) + chunks[1:]
    return LogWindow(chunks, chunks[0].first_line - rows[0][1], 0, rows[-1][0])


def _around(build: Build, rows: list, line: int, budget: int) -> LogWindow:
    """The lines around `line`, as many on each side as the budget allows (the live poll goes on
    from the newest chunk, after the lines this leaves out)."""
    at = max((i for i, row in enumerate(rows) if row[1] <= line), default=0)
    end, used = at + 1, 0
    while end < len(rows) and used + rows[end][2] <= budget:
        used += rows[end][2]
        end += 1
    lines = [(chunk, chunk.first_line + i, text) for chunk in _chunks(build, rows[_start_within(rows, at + 1, budget):end])
             for i, text in enumerate(chunk.text.splitlines(keepends=True))]
    if not lines:
        return LogWindow([], 0, 0, rows[-1][0])
    here = min(range(len(lines)), key=lambda i: abs(lines[i][1] - line))
    first, last, used = here, here, len(lines[here][2])
    while True:  # one line after, one before, while they fit
        grew = False
        for step in (1, -1):
            edge = last + 1 if step == 1 else first - 1
            if 0 <= edge < len(lines) and used + len(lines[edge][2]) <= budget:
                used += len(lines[edge][2])
                first, last, grew = min(first, edge), max(last, edge), True
        if not grew:
            break
    shown: list[ShownChunk] = []
    for chunk, number, text in lines[first:last + 1]:
        if shown and shown[-1].seq == chunk.seq:
            shown[-1] = ShownChunk(chunk.seq, shown[-1].first_line, chunk.step, shown[-1].text + text)
        else:
            shown.append(ShownChunk(chunk.seq, number, chunk.step, text))
    return LogWindow(shown, lines[first][1] - rows[0][1], max(0, build.log_lines - lines[last][1]), rows[-1][0])


def _chunks(build: Build, rows: list) -> list[ShownChunk]:
    stored = {seq: (step, text) for seq, step, text in BuildLogChunk.objects.filter(
        build=build, seq__in=[row[0] for row in rows]).values_list("seq", "step", "text")}
    return [ShownChunk(seq, first_line, *stored[seq]) for seq, first_line, _ in rows if seq in stored]


def _start_within(rows: list, end: int, budget: int) -> int:
    """The index of the oldest row whose text, with those up to `end`, is shown in `budget`: the
    rows that fit whole, and the one before them when room is left (its tail is shown). Always
    at least the row before `end`, cut if it alone is too big."""
    start, used = end - 1, rows[end - 1][2]
    while start > 0 and used + rows[start - 1][2] <= budget:
        start -= 1
        used += rows[start][2]
    return start - 1 if start > 0 and used < budget else start


def _tail(chunk: ShownChunk, keep: int, *, at_least_one: bool) -> ShownChunk:
    """The chunk's last whole lines within `keep` characters (its last line at least, if asked)."""
    lines = chunk.text.splitlines(keepends=True)
    kept, size = [], 0
    for text in reversed(lines):
        if size + len(text) > keep and (kept or not at_least_one):
            break
        kept.append(text)
        size += len(text)
    return ShownChunk(chunk.seq, chunk.first_line + len(lines) - len(kept), chunk.step, "".join(reversed(kept)))


STEP_LINE = re.compile(r"^Step \d+/\d+ : .+$", re.MULTILINE)


def running_command(build: Build, *, look_back: int = 5) -> str:
    """The Dockerfile instruction the engine is running now ("Step 4/9 : RUN apt-get ..."), from the
    newest log of the build step (a long RUN prints many lines after it: a few chunks back at most).
    The log is stored masked, so nothing it shows is a secret the log hides."""
    texts = (BuildLogChunk.objects.filter(build=build, step="build").order_by("-seq")
             .values_list("text", flat=True)[:look_back])
    for text in texts:
        found = STEP_LINE.findall(text)
        if found:
            return found[-1]
    return ""

