"""The checks of a package that need the members seen so far (names, links, duplicates, sizes, ratio,
the .paas scripts), fed one member at a time in archive order; and member-name normalisation."""
import stat

from builds.archive.types import (
    CONTROL_CHARACTERS,
    KIND_WORDS,
    MAX_LINK_TARGET,
    MAX_SYMLINK_HOPS,
    PAAS_SCRIPTS,
    ArchiveError,
    ArchiveMember,
    Entry,
    amount,
    ratio_error,
)


class MemberChecker:
    """The checks that need the members seen so far; fed one member at a time, in archive order."""

    def __init__(self, limits, archive_size):
        self.limits, self.archive_size = limits, archive_size
        self.members: list[ArchiveMember] = []
        self.kinds: dict[str, str] = {}  # name -> kind, for every listed member
        self.folders: set[str] = set()  # every folder that holds a member
        self.symlinks: dict[str, str] = {}
        self.resolved: dict[str, tuple[str, ...]] = {}
        self.scripts: dict[str, bytearray] = {}
        self.oversize: set[str] = set()
        self.first_top = None
        self.seen = self.total = self.stripped = 0

    def admit(self, entry: Entry) -> ArchiveMember | None:
        """The checked member, or None for the archive's own root folder or a folder listed again."""
        self.seen += 1
        if self.seen > self.limits.max_members:
            raise ArchiveError(f"the archive has more than {self.limits.max_members:,} members")
        name = name_normalise(entry.name, self.limits.max_depth)
        if not name:
            if entry.kind == "dir":
                return None
            raise ArchiveError(f"{entry.name!r} has no name")
        target = self._target(name, entry)
        if entry.kind == "file":
            self._count(name, entry.size)
        if not self._place(name, entry.kind):
            return None
        self.stripped += bool(entry.mode & (stat.S_ISUID | stat.S_ISGID))
        # A symlink's own mode means nothing on Linux: fix it so the output depends only on content.
        mode = 0o755 if entry.kind in ("dir", "symlink") or entry.mode & 0o111 else 0o644
        member = ArchiveMember(name, entry.kind, entry.size if entry.kind == "file" else 0, mode, target)
        self.members.append(member)
        self.first_top = self.first_top or name.split("/", 1)[0]
        if entry.kind == "file" and self._script_candidate(name):
            self.scripts[name] = bytearray()
        return member

    def _target(self, name, entry) -> str:
        if entry.kind == "symlink":
            target = entry.target
            if not target or len(target.encode("utf-8", "surrogateescape")) > MAX_LINK_TARGET or CONTROL_CHARACTERS.search(target):
                raise ArchiveError(f"symlink {name!r} has an empty, overlong or unreadable target")
            text_check(target, f"symlink {name!r}")
            if target.startswith("/"):
                raise ArchiveError(f"symlink {name!r} points outside the archive ({target!r})")
            self.symlinks[name] = target
            return target
        if entry.kind == "hardlink":
            try:
                target = name_normalise(entry.target)
            except ArchiveError:
                raise ArchiveError(f"hard link {name!r} points outside the archive ({entry.target!r})") from None
            if self.kinds.get(target) != "file":
                raise ArchiveError(f"hard link {name!r} must point to a file earlier in the archive, not {entry.target!r}")
            return target
        return ""

    def _count(self, name, size):
        limits = self.limits
        if size > limits.max_member_size:
            raise ArchiveError(f"{name!r} is {size:,} bytes; the limit for one file is {amount(limits.max_member_size)}")
        self.total += size
        if self.total > limits.max_total_size:
            raise ArchiveError(f"the archive unpacks to more than {amount(limits.max_total_size)}")
        if self.total > limits.ratio_floor and self.total > limits.max_ratio * self.archive_size:
            raise ratio_error(limits)

    def _place(self, name, kind) -> bool:
        """Record a member; False for a folder listed again. Refuses names that would replace another."""
        parents = parents_of(name)
        for parent in parents:
            other = self.kinds.get(parent, "dir")
            if other != "dir":
                raise ArchiveError(f"{name!r} is inside {parent!r}, which is a {KIND_WORDS[other]}")
        previous = self.kinds.get(name)
        if previous is not None:
            if previous == kind == "dir":
                return False
            both = "" if previous == kind else f" (as a {KIND_WORDS[previous]} and as a {KIND_WORDS[kind]})"
            raise ArchiveError(f"{name!r} appears twice in the archive{both}")
        if kind != "dir" and name in self.folders:
            raise ArchiveError(f"{name!r} is a {KIND_WORDS[kind]} but other members are inside it")
        self.kinds[name] = kind
        self.folders.update(parents)
        return True

    def _script_candidate(self, name) -> bool:
        # Only the archive root and the first top-level folder can become the project root, so at
        # most four scripts are ever held in memory.
        top, _, rest = name.partition("/")
        return name in PAAS_SCRIPTS or (top == self.first_top and rest in PAAS_SCRIPTS)

    def capture(self, name, data):
        held = self.scripts.get(name)
        if held is None:
            return
        held += data
        if len(held) > self.limits.max_script_size:
            del self.scripts[name]
            self.oversize.add(name)

    def finish(self) -> tuple[str, dict[str, bytes]]:
        if not self.members:
            raise ArchiveError("the archive is empty")
        for name in self.symlinks:
            self._resolve(name)
        tops = {name.split("/", 1)[0] for name in self.kinds}
        root = ""
        if tops == {self.first_top} != {".paas"} and self.kinds.get(self.first_top, "dir") == "dir":
            root = self.first_top + "/"
        if self.kinds.get(root + ".paas", "dir") != "dir":
            raise ArchiveError(f"{root}.paas must be a folder")
        scripts = {}
        for script in PAAS_SCRIPTS:
            path, kind = root + script, self.kinds.get(root + script)
            if kind is not None and kind != "file":
                raise ArchiveError(f"{path} must be a regular file, not a {KIND_WORDS[kind]}")
            if path in self.oversize:
                raise ArchiveError(f"{path} is larger than {amount(self.limits.max_script_size)}")
            if kind is not None:
                scripts[script] = bytes(self.scripts[path])
        return root, scripts

    def _resolve(self, name, hops=0) -> tuple[str, ...]:
        """Where symlink `name` leads, as parts of a path inside the archive; refuses a way out."""
        if name in self.resolved:
            return self.resolved[name]
        if hops > MAX_SYMLINK_HOPS:
            raise ArchiveError(f"symlink {name!r} leads through more than {MAX_SYMLINK_HOPS} symlinks")
        target, parts = self.symlinks[name], name.split("/")[:-1]
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise ArchiveError(f"symlink {name!r} points outside the archive ({target!r})")
                parts.pop()
                continue
            parts.append(part)
            if self.kinds.get("/".join(parts)) == "symlink":
                parts = list(self._resolve("/".join(parts), hops + 1))
        self.resolved[name] = tuple(parts)
        return self.resolved[name]


def name_normalise(raw: str, max_depth: int = 32) -> str:
    """A member name as a clean relative path ("" for the root itself), or ArchiveError."""
    text_check(raw, repr(raw))
    if CONTROL_CHARACTERS.search(raw):
        raise ArchiveError(f"{raw!r} contains a NUL or control character")
    if raw.startswith("/"):
        raise ArchiveError(f"{raw!r} is an absolute path")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{raw!r} climbs out of the archive (path traversal with '..')")
    if len(parts) > max_depth:
        raise ArchiveError(f"{raw!r} is nested more than {max_depth} folders deep")
    if any(len(part.encode()) > 255 for part in parts):
        raise ArchiveError(f"{raw!r} has a name part longer than 255 bytes")
    return "/".join(parts)


def text_check(text, what):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ArchiveError(f"{what} is not valid UTF-8") from None


def parents_of(name) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:depth]) for depth in range(1, len(parts))]
