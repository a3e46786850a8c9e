"""Plain data about an image, stored as JSON (no Django here: workers and tests share it).

Stored facts are read back by `ImageFacts.from_dict`, so every field added here needs a
default: rows written before the field existed must still load.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal


@dataclass(frozen=True, kw_only=True)
class Package:
    """One installed package. `source_*` is what security trackers key advisories on.

    type: "deb", "apk", "pypi", "maven" or "npm". For pypi, `source_name` is the PEP 503
    canonical name (`Foo_Bar` -> `foo-bar`), the spelling OSV and PyPI key on, while `name`
    keeps the declared spelling for display.
    """

    type: str = "deb"
    name: str
    version: str
    source_name: str
    source_version: str
    architecture: str
    # Layer that installed this version. dpkg/apk: the first layer whose database lists the
    # package at this version (without interruption up to the top). Language packages: the
    # layer that last wrote the file they were found in.
    layer_index: int | None = None
    path: str = ""  # file it was read from; "a.jar!/BOOT-INF/lib/b.jar" inside archives
    purl: str = ""  # package URL (filled by the reader, which knows the distribution)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Package:
        return cls(**_known(cls, data))


Where = Literal["file", "env", "label", "history"]


@dataclass(frozen=True, kw_only=True)
class SecretFinding:
    """A credential found in the image. Never holds the secret: `fingerprint` is a short
    sha256 prefix of it, enough to tell two findings apart or match a known leaked value.

    `path` is the file for where="file", the variable or label name for "env"/"label",
    "history/<n>" for the n-th history entry. `deleted_in_later_layer` is true when the
    file was deleted or overwritten above its layer: invisible in a container, still in
    the layer blob that anyone who can pull downloads.
    """

    path: str
    layer_index: int | None
    rule: str
    fingerprint: str
    line: int
    deleted_in_later_layer: bool = False
    where: Where = "file"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SecretFinding:
        return cls(**_known(cls, data))


@dataclass(kw_only=True)
class ImageFacts:
    """What compliance knows about one image manifest."""

    repository: str
    digest: str
    layer_digests: list[str]
    config: dict[str, Any]  # the full image config JSON (config.User, config.Env, rootfs...)
    os: dict[str, str] = field(default_factory=dict)  # parsed os-release
    packages: list[Package] = field(default_factory=list)
    passwd: dict[str, int] = field(default_factory=dict)  # user name -> uid
    secrets: list[SecretFinding] = field(default_factory=list)
    secrets_truncated: bool = False  # the secret scan hit a file or finding limit
    files_by_layer: list[int] = field(default_factory=list)  # final-image files each layer added

    @property
    def file_count(self) -> int:
        return sum(self.files_by_layer)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for a JSONField or a task result)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageFacts:
        """Inverse of `to_dict`; unknown keys are ignored so stored facts survive additions."""
        return cls(
            repository=data["repository"],
            digest=data["digest"],
            layer_digests=list(data.get("layer_digests", [])),
            config=dict(data.get("config", {})),
            os=dict(data.get("os", {})),
            packages=[Package.from_dict(p) for p in data.get("packages", [])],
            passwd={name: int(uid) for name, uid in data.get("passwd", {}).items()},
            secrets=[SecretFinding.from_dict(s) for s in data.get("secrets", [])],
            secrets_truncated=bool(data.get("secrets_truncated", False)),
            files_by_layer=[int(n) for n in data.get("files_by_layer", [])],
        )


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    # A row written by a newer version may carry fields this one does not know yet.
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}
