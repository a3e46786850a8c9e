"""Which files of the image an OS package installed.

Debian's python3-urllib3 ships `/usr/lib/python3/dist-packages/urllib3-*.egg-info`, Alpine's
py3-* packages ship dist-info folders, and Debian's lib*-java packages ship jars. Reporting those
as PyPI/Maven packages as well counts them twice and, worse, matches them against the language
advisories with the distribution's version, which carries the distribution's own backported fixes:
false positives a reviewer has to dismiss by hand. The OS package (matched against the
distribution's advisories) is the one that speaks for those files, so language packages read
from a file an OS package owns are left out, as Trivy and Syft do.
"""
from __future__ import annotations

DPKG_INFO = "var/lib/dpkg/info/"
MAX_FILE_LIST_BYTES = 8 * 1024 * 1024  # the largest real .list (a JDK) is about 1 MiB


def is_dpkg_file_list(path: str) -> bool:
    """`var/lib/dpkg/info/<package>[:<arch>].list`: every path the package installed."""
    return path.startswith(DPKG_INFO) and path.endswith(".list") and "/" not in path[len(DPKG_INFO):]


def dpkg_owned(content: bytes) -> set[str]:
    """The paths of a dpkg .list, relative like the layer reader's ("usr/lib/...")."""
    owned = set()
    for line in content.decode("utf-8", errors="replace").splitlines():
        path = line.strip().lstrip("/")
        if path and path != ".":
            owned.add(path)
    return owned


def apk_owned(installed: str) -> set[str]:
    """The files listed in Alpine's `lib/apk/db/installed`: `F:` names a folder, each following
    `R:` a file in it."""
    owned, folder = set(), ""
    for line in installed.splitlines():
        if line.startswith("F:"):
            folder = line[2:].strip().strip("/")
            if folder:
                owned.add(folder)
        elif line.startswith("R:"):
            name = line[2:].strip()
            owned.add(f"{folder}/{name}" if folder else name)
        elif not line.strip():
            folder = ""  # a blank line ends a package's stanza
    return owned
