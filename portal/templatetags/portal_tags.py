import json
import re

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def get_item(mapping, key):
    """mapping[key] in templates (form values and errors are keyed by generated field names)."""
    if mapping is None:
        return None
    return mapping.get(key)


# Terminal control sequences (colours, cursor moves) that build tools print: shown as text they are
# noise like "\x1b[1;32m"; the raw log download keeps them for whoever wants them.
ANSI_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


@register.filter
def chunk_lines(chunk):
    """(line number, text) for each line of a stored log chunk, without terminal control sequences."""
    return [(chunk.first_line + i, ANSI_ESCAPE.sub("", line)) for i, line in enumerate(chunk.text.splitlines())]


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
