"""Read-only view of a Distribution registry's filesystem storage (registry 2.x layout).

The HTTP API cannot list a repository's untagged manifests or its upload sessions; the storage
can. Used by the registry garbage collection on the registry's host: it reads here and deletes
manifests through the API (so the registry keeps its own state right); only abandoned upload
directories, which no API call can remove without the uploader's signed state, are deleted on disk
(what the registry's own upload purger does, without its up-to-an-hour start-up jitter).

Layout under <rootdirectory>/docker/registry/v2/repositories/<name>/:
  _manifests/revisions/sha256/<hex>/link   every manifest put into the repository
  _manifests/tags/<tag>/current/link       the digest a tag points at
  _uploads/<uuid>/startedat                 an upload session and when it started (RFC 3339)
and blobs/sha256/<2 hex>/<hex>/data holds every blob (manifests included).
"""
import datetime
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

INDEX_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json")


@dataclass
class UploadSession:
    repository: str
    uuid: str
    started: float  # seconds since the epoch
    path: Path


class RegistryStorage:
    def __init__(self, rootdirectory: str | Path):
        self.v2 = Path(rootdirectory) / "docker" / "registry" / "v2"
        self.repositories_dir = self.v2 / "repositories"

    def exists(self) -> bool:
        return self.repositories_dir.is_dir()

    def repositories(self, prefix: str) -> list[str]:
        """Repository names under `prefix/` (never the prefix's siblings)."""
        top = self.repositories_dir / prefix
        if not top.is_dir() or top.is_symlink():
            return []
        names = set()
        for marker in ("_manifests", "_uploads", "_layers"):
            for found in top.rglob(marker):
                if found.is_dir() and not any(part.startswith("_") for part in found.parent.relative_to(top).parts):
                    names.add(found.parent.relative_to(self.repositories_dir).as_posix())
        return sorted(name for name in names if name.startswith(prefix.rstrip("/") + "/"))

    def _repository(self, name: str) -> Path:
        return self.repositories_dir / name

    def revisions(self, name: str) -> dict[str, float]:
        """Every manifest digest linked into the repository, with the link's modification time."""
        found = {}
        for link in (self._repository(name) / "_manifests" / "revisions" / "sha256").glob("*/link"):
            found[f"sha256:{link.parent.name}"] = link.stat().st_mtime
        return found

    def tagged(self, name: str) -> set[str]:
        """Digests some tag of the repository points at."""
        return {link.read_text().strip() for link in (self._repository(name) / "_manifests" / "tags").glob("*/current/link")}

    def manifest_children(self, digest: str) -> set[str]:
        """The manifests a manifest list / OCI index names (none for an image manifest)."""
        hexa = digest.removeprefix("sha256:")
        data = self.v2 / "blobs" / "sha256" / hexa[:2] / hexa / "data"
        try:
            document = json.loads(data.read_bytes())
        except (OSError, ValueError):
            return set()
        if document.get("mediaType") not in INDEX_TYPES and "manifests" not in document:
            return set()
        return {entry["digest"] for entry in document.get("manifests", []) if "digest" in entry}

    def uploads(self, name: str) -> list[UploadSession]:
        sessions = []
        for folder in (self._repository(name) / "_uploads").glob("*"):
            started_at = folder / "startedat"
            try:
                started = datetime.datetime.fromisoformat(started_at.read_text().strip().replace("Z", "+00:00")).timestamp()
            except (OSError, ValueError):
                started = folder.stat().st_mtime  # unreadable: its folder's age stands in
            sessions.append(UploadSession(name, folder.name, started, folder))
        return sessions

    def upload_remove(self, session: UploadSession) -> None:
        shutil.rmtree(session.path, ignore_errors=True)
