"""Plain data about an image, stored as JSON (no Django here: workers and tests share it)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Package:
    """One installed package. `source_*` is what security trackers key advisories on."""

    type: str = "deb"
    name: str
    version: str
    source_name: str
    source_version: str
    architecture: str
    # Layer that last wrote the database the package was read from (for a dpkg status
    # file that is the last layer that installed or removed anything).
    layer_index: int | None = None


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
            packages=[Package(**p) for p in data.get("packages", [])],
            passwd={name: int(uid) for name, uid in data.get("passwd", {}).items()},
        )
