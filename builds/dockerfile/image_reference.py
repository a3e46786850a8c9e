"""Parse an image reference as Docker does (`[host/]path[:tag][@digest]`) and match it to the
catalog. Pure: plain data in, plain data out.

The grammar is the one of Docker's distribution/reference package, written out here so that a
hostile value (spaces, quotes, `..`, control characters, 10 kB of text) is refused with a message
instead of reaching the engine.
"""
import re
from dataclasses import dataclass

MAX_REFERENCE = 255  # Docker's own limit on a repository name
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_REFERENCE = re.compile(
    rf"(?:(?P<host>{_HOST})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?"
)


class ImageReferenceError(ValueError):
    """The reference is malformed, from another registry, or not an approved base."""


@dataclass(frozen=True)
class ImageReference:
    host: str  # "" when the reference names no registry
    repository: str
    tag: str  # "" when only a digest is given
    digest: str

    def __str__(self):
        text = f"{self.host}/{self.repository}" if self.host else self.repository
        return text + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


@dataclass(frozen=True)
class CatalogBase:
    """A catalog base image as FROM resolution sees it."""

    slug: str
    repository: str
    tag: str
    digest: str
    selectable: bool
    state: str = ""  # why it is not selectable: "pending review", "retired", ...

    @property
    def name(self) -> str:
        return f"{self.repository}:{self.tag}"


def reference_parse(text: str) -> ImageReference:
    """The parts of an image reference, or ImageReferenceError saying what is wrong with it."""
    if len(text) > MAX_REFERENCE:
        raise ImageReferenceError(f"the image reference is longer than {MAX_REFERENCE} characters")
    match = _REFERENCE.fullmatch(text)
    if match is None:
        raise ImageReferenceError(f"{text!r} is not a valid image reference")
    host, path = match.group("host") or "", match.group("path")
    # Docker reads the first part as a registry only when it looks like one ("busybox/x" is a path).
    if host and not ("." in host or ":" in host or host == "localhost"):
        host, path = "", f"{host}/{path}"
        if not _PATH.fullmatch(path):
            raise ImageReferenceError(f"{text!r} is not a valid image reference")
    tag = match.group("tag") or ""
    digest = match.group("digest") or ""
    if not tag and not digest:
        tag = "latest"  # what Docker pulls; named here so the message says so
    return ImageReference(host=host, repository=path, tag=tag, digest=digest)


def base_match(reference: ImageReference, bases: list[CatalogBase], registry_host: str) -> CatalogBase:
    """The approved catalog base the reference names, by repository and tag or by digest."""
    if reference.host and reference.host != registry_host:
        raise ImageReferenceError(f"{reference} is from {reference.host}; only the portal's registry "
                             f"({registry_host}) holds approved base images")
    same_repository = [b for b in bases if b.repository == reference.repository]
    if reference.digest:
        found = [b for b in same_repository if b.digest == reference.digest]
        if found and reference.tag and all(b.tag != reference.tag for b in found):
            raise ImageReferenceError(f"{reference}: the tag and the digest name different images "
                                 f"(the digest is {found[0].name})")
    else:
        found = [b for b in same_repository if b.tag == reference.tag]
    usable = [b for b in found if b.selectable]
    if usable:
        return usable[0]
    if found:
        raise ImageReferenceError(f"{reference} is in the catalog ({found[0].slug}) but not approved for use"
                             f" ({found[0].state or 'not approved'})")
    approved = sorted(b.name for b in bases if b.selectable)
    listed = ", ".join(approved[:10]) + (" …" if len(approved) > 10 else "") if approved else "none yet"
    raise ImageReferenceError(f"{reference} is not an approved base image; approved: {listed}")


def pinned(base: CatalogBase, registry_host: str) -> str:
    return f"{registry_host}/{base.repository}@{base.digest}"
