"""Parse os-release(5): KEY=value lines, values optionally in shell quotes."""
from __future__ import annotations

import re

# Inside double quotes os-release allows shell escapes of exactly these characters.
_ESCAPE = re.compile(r'\\(["\\$`])')


def parse_os_release(text: str) -> dict[str, str]:
    """All assignments of an os-release file, e.g. {"ID": "debian", "VERSION_ID": "12"}."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        result[key.strip()] = _unquote(raw.strip())
    return result


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return _ESCAPE.sub(r"\1", raw[1:-1])
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    # Unbalanced or missing quotes: keep the value rather than drop the key.
    return raw.strip("\"'")
