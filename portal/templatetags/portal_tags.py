import json
import re

from ansi2html import Ansi2HTMLConverter
from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def get_item(mapping, key):
    """mapping[key] in templates (form values and errors are keyed by generated field names)."""
    if mapping is None:
        return None
    return mapping.get(key)


# Terminal control sequences that build tools print: colours and weights (SGR, "\x1b[1;32m") are
# rendered, every other one (cursor moves, line clears, hyperlinks' markers) is dropped; shown as text
# they are noise. The raw log download keeps them all for whoever wants them.
ANSI_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
SGR = re.compile(r"\x1b\[[0-9;]*m")
_ANSI_HTML = Ansi2HTMLConverter(inline=False, escaped=True)  # classes (ansi1, ansi32...), styled in portal.css


def ansi_html(line: str) -> str:
    """A log line as safe HTML: its text escaped, its colours as spans (one line at a time: a colour
    left on at the end of a line does not carry to the next)."""
    kept = ANSI_ESCAPE.sub(lambda m: m.group(0) if SGR.fullmatch(m.group(0)) else "", line)
    if "\x1b" not in kept:
        return escape(kept)
    return _ANSI_HTML.convert(kept, full=False)


@register.filter
def chunk_lines(chunk):
    """(line number, HTML) for each line of a stored log chunk, colours rendered, other terminal
    control sequences dropped."""
    return [(chunk.first_line + i, mark_safe(ansi_html(line))) for i, line in enumerate(chunk.text.splitlines())]


@register.filter
def duration(start, end):
    """'4 s', '3 min 12 s', '1 h 5 min' between two datetimes (timesince rounds to minutes)."""
    if not start or not end:
        return ""
    seconds = int((end - start).total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@register.filter
def elapsed(start):
    """How long since `start`, in seconds under a minute ('12 s', '3 min 12 s'): timesince says
    '0 minutes' for the whole first minute of a build."""
    return duration(start, timezone.now())


@register.filter
def step_duration(step) -> str:
    """A build step's duration from the ISO times the pipeline records ('' before it starts); a
    running step's so far."""
    started = parse_datetime((step or {}).get("started") or "")
    if started is None:
        return ""
    finished = parse_datetime(step.get("finished") or "") if step.get("status") != "running" else None
    return duration(started, finished or timezone.now())


@register.filter
def as_json(value):
    """Compact JSON for showing stored parameters as admins wrote them (escaped by the template)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
