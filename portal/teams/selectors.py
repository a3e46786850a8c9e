"""Reads for the team pages, with who may see what."""
from django.db.models import Count, Q

from portal.models import Membership, RobotAccount
from portal.rbac import visible_teams


def teams_listed(user):
    """The user's teams (all of them for platform admins and security reviewers), with counts."""
    return visible_teams(user).annotate(
        members=Count("memberships", distinct=True),
        owners=Count("memberships", filter=Q(memberships__role=Membership.Role.OWNER), distinct=True),
    ).order_by("slug")


def team_members(team):
    return team.memberships.select_related("user").order_by("-role", "user__username")


def team_robots(team):
    return RobotAccount.objects.filter(team=team).order_by("name")
