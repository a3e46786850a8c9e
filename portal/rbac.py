"""Role checks used by views, the API and services alike, so pages and API agree."""
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from portal.models import GlobalRole, Membership, Team


def is_platform_admin(user) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_superuser or user.global_roles.filter(kind=GlobalRole.Kind.PLATFORM_ADMIN).exists()


def is_security_reviewer(user) -> bool:
    if not user.is_authenticated:
        return False
    return is_platform_admin(user) or user.global_roles.filter(kind=GlobalRole.Kind.SECURITY_REVIEWER).exists()


def teams_of(user):
    """Teams whose recipes and builds the user may see and build (none for an anonymous user,
    which the API schema generator is when it reads the viewsets' querysets for their id types)."""
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user)


def visible_teams(user):
    """Teams whose results the user may read: own teams, or all for reviewers and admins."""
    if is_security_reviewer(user):
        return Team.objects.all()
    return teams_of(user)


def team_scope(teams: QuerySet, slug) -> tuple[str, QuerySet]:
    """A `?team=` filter over the teams a user may see: (the slug, those teams narrowed to it), or
    ("", all of them) when the slug names none of them. A team the user may not see is ignored,
    never refused: refusing would tell them it exists, and applying it could show its data."""
    if isinstance(slug, str) and slug and any(team.slug == slug for team in teams):
        return slug, teams.filter(slug=slug)
    return "", teams


def require_team_member(user, team) -> None:
    if not Membership.objects.filter(user=user, team=team).exists() and not is_platform_admin(user):
        raise PermissionDenied(f"You are not a member of team {team.name}.")
