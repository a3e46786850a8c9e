"""Which exceptions apply to a build now: what a verdict evaluation reads (and the one write it
makes: an exception that asked to end once a fix ships ends when the evaluation sees the fix)."""
from django.db.models import Q
from django.utils import timezone

from builds.models import Build
from compliance.models import PolicyException
from portal.audit import audit_record


def exception_end_fixed(exception: PolicyException) -> None:
    """'End early when a fix is available': a fixed version now exists, so the exception ends."""
    updated = PolicyException.objects.filter(pk=exception.pk, status=PolicyException.Status.APPROVED).update(
        status=PolicyException.Status.EXPIRED, decision_comment="Ended automatically: a fixed version is available.")
    if updated:
        audit_record(actor=None, action="exception.ended_fix_available", target=exception, team=exception.team)


def exceptions_active_for(build: Build, *, now=None) -> list[PolicyException]:
    """Approved, unexpired exceptions whose scope covers this build (checked at use, so an
    exception past its expiry stops applying even before the periodic job runs)."""
    now = now or timezone.now()
    scoped = (Q(scope=PolicyException.Scope.GLOBAL) | Q(scope=PolicyException.Scope.TEAM, team=build.team_id)
              | Q(scope=PolicyException.Scope.RECIPE, recipe=build.recipe_id)
              | Q(scope=PolicyException.Scope.IMAGE, recipe=build.recipe_id, digest=build.digest))
    return list(PolicyException.objects.filter(scoped, status=PolicyException.Status.APPROVED, expires_at__gt=now))
