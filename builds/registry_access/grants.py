"""What a person or a robot may do in the registry: pull only, and only published images they may see.

- a robot of team T: pull `published/T/*`, and other teams' published images whose recipe is
  marked visible to other teams;
- a person: the same for each of their teams; security reviewers and platform admins also pull
  `quarantine/*` (to look at blocked images) and every published image;
- nobody outside the portal's service identities pushes or deletes: only the gate writes
  `published/`, only builders write `quarantine/`.
"""
from dataclasses import dataclass, field

from django.conf import settings

from adapters.registry_tokens import Access
from builds.models import Recipe


@dataclass(frozen=True)
class Principal:
    """Who asks: `kind` robot, user or anonymous; `teams` the team slugs it acts for."""

    kind: str
    subject: str = ""
    teams: frozenset = field(default_factory=frozenset)
    reviewer: bool = False


ANONYMOUS = Principal("anonymous")


def _split(name: str, prefix: str) -> tuple[str, str] | None:
    """(team, image) of `<prefix>/<team>/<image>`, or None for any other repository."""
    head = prefix.rstrip("/") + "/"
    if not name.startswith(head):
        return None
    parts = name[len(head):].split("/")
    return (parts[0], parts[1]) if len(parts) == 2 else None


def published_image_shared(team: str, image: str) -> bool:
    """Whether `published/<team>/<image>` is open to other teams (its recipe says so): for the
    registry's pulls and for whatever else shows that image beyond its team."""
    return Recipe.objects.filter(team__slug=team, name=image, visible_to_other_teams=True).exists()


def principal_grant(principal: Principal, requested: Access) -> Access:
    """The part of `requested` the principal may do (pull at most)."""
    nothing = Access(requested.type, requested.name, ())
    if principal.kind == "anonymous" or requested.type != "repository" or "pull" not in requested.actions:
        return nothing
    published = _split(requested.name, settings.PUBLISHED_REPOSITORY_PREFIX)
    quarantined = _split(requested.name, settings.QUARANTINE_REPOSITORY_PREFIX)
    if principal.reviewer and (published or quarantined):
        return Access(requested.type, requested.name, ("pull",))
    if published and (published[0] in principal.teams or published_image_shared(*published)):
        return Access(requested.type, requested.name, ("pull",))
    return nothing
