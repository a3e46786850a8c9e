"""Layers -> `ImageFacts`, whatever the layers come from (a registry, a `docker save` tar).

Pure: streams and plain data in, facts out.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from compliance.sbom.accounts import parse_accounts, parse_groups, parse_shadow, with_origin
from compliance.sbom.apk import APK_INSTALLED, parse_apk_installed
from compliance.sbom.collect import LayerCollector
from compliance.sbom.dpkg import parse_dpkg_status
from compliance.sbom.layer_record import LayerRecord, layer_read, layer_replay
from compliance.sbom.layers import LayerFile
from compliance.sbom.models import ImageFacts, Package, Privileges, SpecialFile
from compliance.sbom.origin import packages_with_origin
from compliance.sbom.os_release import parse_os_release
from compliance.sbom.overlay import Overlay
from compliance.sbom.ownership import apk_owned
from compliance.sbom.passwd import parse_passwd
from compliance.sbom.purl import with_purls
from compliance.sbom.secrets import MAX_FILES
from compliance.sbom.special import special_entry

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"
OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")  # etc/ wins, as systemd reads it
PASSWD = "etc/passwd"
GROUP = "etc/group"
SHADOW = "etc/shadow"  # read for whether accounts need a password; no hash is kept
_WANTED = {DPKG_STATUS, APK_INSTALLED, PASSWD, GROUP, SHADOW, *OS_RELEASE_PATHS}
# More special files than this are not kept (a `chmod -R u+s` of a tree): the highest layers first.
MAX_SPECIAL_FILES = 1000


def history_path(path: str) -> bool:
    """Package databases and the account files: every layer's copy is kept, to tell which layer
    installed a package or added an account."""
    if path in (DPKG_STATUS, APK_INSTALLED, PASSWD, GROUP):
        return True
    # Distroless keeps one stanza file per package; its *.md5sums siblings are file lists.
    name = path.removeprefix(DPKG_STATUS_D)
    return name != path and name != "" and "/" not in name and not name.endswith(".md5sums")


def wanted_path(path: str) -> bool:
    """The files `read_image` keeps from the top of the image."""
    return path in _WANTED or history_path(path)


def facts_from_layers(*, repository: str, digest: str, layer_digests: list[str], config: dict[str, Any],
                      layers: Iterable[BinaryIO | LayerRecord], max_secret_files: int = MAX_FILES,
                      recorded: Callable[[LayerRecord], None] | None = None) -> ImageFacts:
    """Read the layers (bottom first) once: OS and language packages, users, secrets, and what
    the privilege rules read (accounts, groups, setuid/capability/world-writable files).

    A layer is a tar stream, or the record of an earlier reading of it (compliance/sbom/layer_record.py),
    replayed in its place with the same result. With `recorded`, each layer read from its stream
    is handed over as a record once read (unless too big to keep)."""
    collector = LayerCollector(max_secret_files=max_secret_files)
    overlay = Overlay(history_path, index=True)
    for layer_index, layer in enumerate(layers):
        if isinstance(layer, LayerRecord):
            layer_replay(layer.at(layer_index), overlay, collector)
        else:
            record = layer_read(layer, layer_index, overlay, collector, wanted=wanted_path, mark=special_entry,
                                recording=recorded is not None)
            if record is not None and recorded is not None:
                recorded(record)
        overlay.end_layer()
    scan = overlay.result()
    facts = facts_from_files(repository=repository, digest=digest, layer_digests=layer_digests, config=config,
                             files=scan.files, history=scan.history)
    facts.privileges = privileges_from_files(scan.files, scan.history, list(scan.marks.values()))
    apk_db = scan.files.get(APK_INSTALLED)
    os_owned = apk_owned(_text(apk_db)) if apk_db else set()
    facts.packages = _sorted(facts.packages + with_purls(collector.packages(scan.index, os_owned), facts.os))
    collector.secrets.scan_config(config)
    facts.secrets = collector.secrets.finish(scan.index)
    facts.secrets_truncated = collector.secrets.truncated
    facts.files_by_layer = [0] * max(len(layer_digests), max(scan.index.values(), default=-1) + 1)
    for layer_index in scan.index.values():
        facts.files_by_layer[layer_index] += 1
    return facts


def facts_from_files(*, repository: str, digest: str, layer_digests: list[str], config: dict[str, Any],
                     files: dict[str, LayerFile], history: dict[str, list[LayerFile]] | None = None) -> ImageFacts:
    """Merged files (and, if known, every layer's copy of the package databases) -> facts
    about the OS, its packages and users. Without `history`, an OS package's layer is the
    one that last wrote its database. `privileges` stays None (unknown): the special files need
    every entry's metadata, which only `facts_from_layers` sees."""
    os_file = next((files[p] for p in OS_RELEASE_PATHS if p in files), None)
    passwd = files.get(PASSWD)
    os_release = parse_os_release(_text(os_file)) if os_file else {}
    return ImageFacts(
        repository=repository,
        digest=digest,
        layer_digests=list(layer_digests),
        config=config,
        os=os_release,
        packages=with_purls(_os_packages(files, history or {}), os_release),
        passwd=parse_passwd(_text(passwd)) if passwd else {},
    )


def privileges_from_files(files: dict[str, LayerFile], history: dict[str, list[LayerFile]],
                          special_files: list[SpecialFile]) -> Privileges:
    """Accounts and groups (each with the layer that added it) and the special files at the top."""
    shadow_file = files.get(SHADOW)
    shadow = parse_shadow(_text(shadow_file)) if shadow_file else None

    def copies(path: str) -> list[LayerFile]:
        return history.get(path) or ([files[path]] if path in files else [])

    kept = sorted(special_files, key=lambda f: (-f.layer_index, f.path))[:MAX_SPECIAL_FILES]
    return Privileges(
        accounts=with_origin(copies(PASSWD), lambda text: parse_accounts(text, shadow)),
        groups=with_origin(copies(GROUP), parse_groups),
        special_files=sorted(kept, key=lambda f: (f.layer_index, f.path)),
        special_files_truncated=len(special_files) > MAX_SPECIAL_FILES,
        shadow_layer_index=shadow_file.layer_index if shadow_file else None,
    )


def _os_packages(files: dict[str, LayerFile], history: dict[str, list[LayerFile]]) -> list[Package]:
    found: dict[tuple[str, str, str, str], Package] = {}
    for path in sorted(files):
        if path == APK_INSTALLED:
            parse = parse_apk_installed
        elif path == DPKG_STATUS or path.startswith(DPKG_STATUS_D):
            parse = parse_dpkg_status
        else:
            continue
        for package in packages_with_origin(history.get(path) or [files[path]], parse):
            # An image with both dpkg databases lists a package twice: keep one.
            found.setdefault((package.type, package.name, package.architecture, package.version), package)
    return _sorted(found.values())


def _sorted(packages: Iterable[Package]) -> list[Package]:
    return sorted(packages, key=lambda p: (p.type, p.name, p.architecture, p.version, p.path))


def _text(layer_file: LayerFile) -> str:
    return layer_file.data.decode("utf-8", errors="replace")
