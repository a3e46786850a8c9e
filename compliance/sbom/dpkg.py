"""Parse dpkg databases: `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/*`."""
from __future__ import annotations

import re
from collections.abc import Iterator

from compliance.sbom.models import Package

# "Source: glibc (2.36-9)" names a source whose version differs from the binary's (binNMUs).
_SOURCE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]*)\))?\s*$")
_INSTALLED_WANTS = {"install", "hold"}


def parse_dpkg_status(text: str, layer_index: int | None = None, path: str = "") -> list[Package]:
    """Installed packages of a dpkg status file (or one distroless status.d file).

    Only stanzas whose Status is "install|hold ok installed" count: removed packages keep
    a "deinstall ok config-files" stanza that must not be reported. Distroless status.d
    files carry no Status field at all; a stanza without one is taken as installed.
    """
    packages = []
    for stanza in _stanzas(text):
        if not stanza.get("package") or not _is_installed(stanza.get("status")):
            continue
        version = stanza.get("version", "")
        source_name, source_version = stanza["package"], version
        match = _SOURCE.match(stanza.get("source", ""))
        if match:
            source_name = match["name"]
            source_version = match["version"] or version
        packages.append(Package(
            name=stanza["package"],
            version=version,
            source_name=source_name,
            source_version=source_version,
            architecture=stanza.get("architecture", ""),
            layer_index=layer_index,
            path=path,
        ))
    return packages


def _is_installed(status: str | None) -> bool:
    if status is None:
        return True  # distroless status.d
    words = status.split()
    return len(words) == 3 and words[0] in _INSTALLED_WANTS and words[1:] == ["ok", "installed"]


def _stanzas(text: str) -> Iterator[dict[str, str]]:
    """deb822 paragraphs as {lower-cased field: first-line value}.

    Continuation lines (leading space or tab) belong to the previous field; we only need
    single-line fields, so they are skipped. Lines of only whitespace separate paragraphs,
    as Debian policy asks parsers to accept.
    """
    stanza: dict[str, str] = {}
    for line in text.splitlines():  # also splits CRLF and copes with a missing final newline
        if not line.strip():
            if stanza:
                yield stanza
            stanza = {}
        elif line[0] in " \t" or line.startswith("#"):
            continue
        elif ":" in line:
            key, _, value = line.partition(":")
            stanza[key.strip().lower()] = value.strip()
    if stanza:
        yield stanza
