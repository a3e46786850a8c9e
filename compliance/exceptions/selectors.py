"""Reads of exceptions for the pages and the API, with who may see what."""
from django.db.models import Q

from compliance.models import PolicyException
from portal.rbac import is_security_reviewer, visible_teams


def exceptions_visible_to(user):
    """Reviewers see all; others see their teams' and the global ones."""
    if is_security_reviewer(user):
        return PolicyException.objects.all()
    return PolicyException.objects.filter(Q(team__in=visible_teams(user)) | Q(scope=PolicyException.Scope.GLOBAL))
