"""Java archives (jar, war, ear) and the archives nested in them.

Each archive is identified by, in order of trust: its `META-INF/maven/<g>/<a>/pom.properties`
(a fat or shaded jar carries one per bundled library, so several packages), else its
`META-INF/MANIFEST.MF` (OSGi bundle name, else an implementation title that is an
identifier), else a `name-1.2.3.jar` file name. Archives inside archives
(`WEB-INF/lib/*.jar`, Spring Boot's `BOOT-INF/lib/*.jar`, an ear's modules) are opened
too, down to `MAX_DEPTH`, within a byte budget: a zip can claim any size, and a hostile
image must not be able to make the reader decompress gigabytes.
"""
from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from compliance.sbom.models import Package

ARCHIVE_SUFFIXES = (".jar", ".war", ".ear")
MAX_DEPTH = 3  # the image's archive is depth 1
MAX_NESTED_SIZE = 64 * 1024 * 1024  # one nested archive, read into memory
MAX_NESTED_TOTAL = 256 * 1024 * 1024  # all nested archives of one top-level archive
MAX_METADATA_SIZE = 1024 * 1024  # a pom.properties or MANIFEST.MF
# What reading a damaged, encrypted or exotic zip raises; such an archive is skipped.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, ValueError,
               RuntimeError, NotImplementedError)
_POM_PROPERTIES = re.compile(r"META-INF/maven/[^/]+/[^/]+/pom\.properties")
# "commons-lang3-3.12.0.jar", "netty-codec-4.1.100.Final.jar": the version starts at the
# first "-<digit>"; names themselves may contain digits after letters ("log4j-api").
_PROPERTY = re.compile(r"(?P<key>[^=:\s]+)\s*[=:]?\s*(?P<value>.*)")
_FILE_NAME = re.compile(r"(?P<name>[^/]+?)-(?P<version>\d[^/]*)\.(?:jar|war|ear)")


def is_java_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


@dataclass
class _Budget:
    left: int  # bytes of nested archives still allowed


def parse_java_archive(source: BinaryIO, *, path: str, layer_index: int | None = None) -> list[Package]:
    """Packages of a seekable archive and of the archives nested in it; [] if it is not a zip."""
    try:
        with zipfile.ZipFile(source) as archive:
            return _archive(archive, path, layer_index, depth=1, budget=_Budget(MAX_NESTED_TOTAL))
    except _ZIP_ERRORS:
        return []


def _archive(archive: zipfile.ZipFile, path: str, layer_index: int | None, *, depth: int,
             budget: _Budget) -> list[Package]:
    infos = archive.infolist()
    found = [_package(props, path, layer_index) for props in _pom_properties(archive, infos)]
    if not found:
        identity = _from_manifest(archive) or _from_file_name(path)
        if identity:
            found = [_package({"artifactId": identity[0], "version": identity[1]}, path, layer_index)]
    packages = list(dict.fromkeys(p for p in found if p is not None))  # shaded jars repeat poms
    if depth >= MAX_DEPTH:
        return packages
    for info in infos:
        if info.is_dir() or not is_java_archive(info.filename):
            continue
        if info.file_size > MAX_NESTED_SIZE or info.file_size > budget.left:
            continue
        budget.left -= info.file_size
        try:
            with zipfile.ZipFile(io.BytesIO(archive.read(info))) as nested:
                packages += _archive(nested, f"{path}!/{info.filename}", layer_index,
                                     depth=depth + 1, budget=budget)
        except _ZIP_ERRORS:
            continue  # a broken nested archive hides nothing else
    return packages


def _package(props: dict[str, str], path: str, layer_index: int | None) -> Package | None:
    group, artifact, version = props.get("groupId", ""), props.get("artifactId", ""), props.get("version", "")
    if not artifact or not version:
        return None
    name = f"{group}:{artifact}" if group else artifact  # OSV's Maven ecosystem keys on group:artifact
    return Package(type="maven", name=name, version=version, source_name=name, source_version=version,
                   architecture="", layer_index=layer_index, path=path)


def _pom_properties(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> list[dict[str, str]]:
    found = []
    for info in infos:
        if _POM_PROPERTIES.fullmatch(info.filename) and info.file_size <= MAX_METADATA_SIZE:
            found.append(_properties(archive.read(info).decode("utf-8", errors="replace")))
    return found


def _properties(text: str) -> dict[str, str]:
    """Java .properties, the subset Maven writes: `key=value` (or `:`), `#` and `!` comments."""
    values = {}
    for line in text.splitlines():
        match = _PROPERTY.fullmatch(line.strip())
        if match and match["key"][0] not in "#!":
            values[match["key"]] = match["value"]
    return values


def _from_manifest(archive: zipfile.ZipFile) -> tuple[str, str] | None:
    try:
        info = archive.getinfo("META-INF/MANIFEST.MF")
    except KeyError:
        return None
    if info.file_size > MAX_METADATA_SIZE:
        return None
    main = _manifest_main_section(archive.read(info).decode("utf-8", errors="replace"))
    for name_key, version_key in (("Bundle-SymbolicName", "Bundle-Version"),
                                  ("Implementation-Title", "Implementation-Version")):
        name = main.get(name_key, "").split(";", 1)[0].strip()  # "x.y;singleton:=true"
        version = main.get(version_key, "").strip()
        # A title with spaces ("ASM, a very small and fast ...") is prose, not an identifier:
        # the file name says more.
        if name and version and not re.search(r"\s", name):
            return name, version
    return None


def _manifest_main_section(text: str) -> dict[str, str]:
    """The main attributes of a manifest: lines wrap at 72 bytes and continue after one
    leading space; the first blank line ends the main section (per-entry sections follow)."""
    attributes: dict[str, str] = {}
    last = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if attributes:
                break
            continue
        if line.startswith(" ") and last:
            attributes[last] += line[1:]  # a wrap may fall anywhere, even inside a word
        elif ":" in line:
            last, _, value = line.partition(":")
            attributes[last] = value.removeprefix(" ")
    return {key: value.strip() for key, value in attributes.items()}


def _from_file_name(path: str) -> tuple[str, str] | None:
    match = _FILE_NAME.fullmatch(path.rsplit("/", 1)[-1])
    return (match["name"], match["version"]) if match else None
