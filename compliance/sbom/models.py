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


@dataclass(frozen=True, kw_only=True)
class Account:
    """One /etc/passwd entry. Never holds a password: `password` says only whether one is needed.

    password: "none" (an empty field: `su` lets anyone in without asking), "locked" (`*`, `!...`,
    or `x` with no /etc/shadow entry) or "set" (a hash, in passwd or shadow). `layer_index` is
    the first layer of the unbroken run of passwd copies, ending at the top, that hold this line.
    """

    name: str
    uid: int
    gid: int
    password: str = "locked"
    layer_index: int | None = None
    password_in_shadow: bool = False  # the state comes from /etc/shadow (its own layer), not this line

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Account:
        return cls(**_known(cls, data))


@dataclass(frozen=True, kw_only=True)
class GroupEntry:
    """One /etc/group entry; `members` are the users it lists (their supplementary group)."""

    name: str
    gid: int
    members: tuple[str, ...] = ()
    layer_index: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupEntry:
        values = _known(cls, data)
        values["members"] = tuple(values.get("members", ()))
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class SpecialFile:
    """A file of the final image that can change privileges: setuid/setgid bits, file
    capabilities (the `security.capability` xattr), or write access for everyone under a
    system path. `layer_index` is the layer that last wrote the entry (its mode and xattrs
    are that layer's). `mode` holds the permission bits with setuid/setgid/sticky (0o7777).

    type: "file", "hardlink", "dir" or "other" (fifos and devices).
    """

    path: str
    layer_index: int
    type: str
    mode: int
    uid: int = 0
    gid: int = 0
    capabilities: str = ""  # getcap's spelling, e.g. "cap_net_raw=ep"; "" without the xattr

    @property
    def setuid(self) -> bool:
        return self.type in ("file", "hardlink") and bool(self.mode & 0o4000)

    @property
    def setgid(self) -> bool:
        return self.type in ("file", "hardlink") and bool(self.mode & 0o2000)

    @property
    def world_writable(self) -> bool:
        return bool(self.mode & 0o002)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpecialFile:
        return cls(**_known(cls, data))


@dataclass(kw_only=True)
class Privileges:
    """What the privilege rules read from the layers: accounts, groups and special files.

    `ImageFacts.privileges` is None for facts stored before the portal read these: such a scan
    cannot say whether the image is clean, so the rules that need them fail closed.
    `special_files_truncated`: more special files than are kept (the highest layers are kept first,
    so the layers above a base are the last to be cut).
    """

    accounts: list[Account] = field(default_factory=list)
    groups: list[GroupEntry] = field(default_factory=list)
    special_files: list[SpecialFile] = field(default_factory=list)
    special_files_truncated: bool = False
    shadow_layer_index: int | None = None  # the layer that last wrote /etc/shadow (password states)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Privileges:
        shadow_layer = data.get("shadow_layer_index")
        return cls(accounts=[Account.from_dict(a) for a in data.get("accounts", [])],
                   groups=[GroupEntry.from_dict(g) for g in data.get("groups", [])],
                   special_files=[SpecialFile.from_dict(f) for f in data.get("special_files", [])],
                   special_files_truncated=bool(data.get("special_files_truncated", False)),
                   shadow_layer_index=int(shadow_layer) if shadow_layer is not None else None)


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
    # None: not read (facts stored before privileges were read, or read without layer metadata).
    privileges: Privileges | None = None

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
            privileges=Privileges.from_dict(data["privileges"]) if data.get("privileges") is not None else None,
        )


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    # A row written by a newer version may carry fields this one does not know yet.
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}
