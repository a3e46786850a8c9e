"""Check an uploaded code package and its `.paas/` scripts before anything runs.

A package (tar.gz, tar or zip) is inspected without unpacking (path traversal, links out of the
tree, devices, bombs are refused); `.paas/build-env.sh` and `.paas/image-env.sh` are checked with
shellcheck and the portal's rules. Findings are stored on the recipe; errors block its builds.
"""
from dataclasses import asdict

from django.conf import settings

from builds.archive.package import ArchiveError, archive_inspect
from builds.errors import CompositionError
from builds.team_scripts.checks import script_check, scripts_blocking

ARCHIVE_MAGIC = (b"\x1f\x8b", b"PK\x03\x04")


def is_archive(upload) -> bool:
    upload.seek(0)
    head = upload.read(512)
    upload.seek(0)
    return head.startswith(ARCHIVE_MAGIC) or head[257:262] == b"ustar"


def package_check(upload, filename: str) -> list[dict]:
    """Script findings of an uploaded package (empty when it is a plain file or has no scripts)."""
    if not is_archive(upload):
        return []
    try:
        info = archive_inspect(upload, filename=filename)
    except ArchiveError as error:
        raise CompositionError(f"The package was refused: {error}", {"artifact": str(error)})
    finally:
        upload.seek(0)
    findings = []
    for name, content in sorted(info.paas_scripts.items()):
        for finding in script_check(name, content, allowed_hosts=set(settings.SCRIPT_ALLOWED_HOSTS)):
            findings.append({"script": name, **asdict(finding)})
    return findings


def recipe_package_scripts(recipe) -> tuple[dict[str, bytes], str]:
    """The checked `.paas` scripts of the recipe's package by kind ("build-env", "image-env"), and
    the folder holding the project inside the package ("" or "app-1.0/")."""
    if not recipe.artifact:
        return {}, ""
    with recipe.artifact.open("rb") as handle:
        if not is_archive(handle):
            return {}, ""
        info = archive_inspect(handle, filename=recipe.artifact_name)
    scripts = {name.rsplit("/", 1)[-1].removesuffix(".sh"): content for name, content in info.paas_scripts.items()}
    return scripts, info.root


def package_blocking(findings: list[dict]) -> bool:
    return any(f["severity"] == "error" for f in findings)


__all__ = ["is_archive", "package_check", "package_blocking", "scripts_blocking"]
