"""Exceptions: requested by a team, decided by a security reviewer who is not the requester
(two reviewers when it may waive a Critical finding: compliance/exceptions/approvals.py),
scoped, and expiring. Every decision goes to the audit log; an expired or revoked exception
stops applying at once (the affected verdicts are re-evaluated)."""
import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from builds.models import Build
from builds.selectors import latest_of_each_recipe
from compliance.exceptions.approvals import DecisionConflict, approvals_required_for, exception_approve
from compliance.models import Finding, PolicyException
from compliance.policy.change import verdicts_reevaluate
from compliance.vulndb.severity import SEVERITY_ORDER
from portal.audit import audit_record
from portal.rbac import is_security_reviewer, require_team_member

MIN_JUSTIFICATION = 30
TICKET_MAX = PolicyException._meta.get_field("ticket").max_length

__all__ = ["DecisionConflict", "exception_request", "exception_reviewer_required", "exception_decide", "exception_revoke",
           "exceptions_expire"]


def max_days_for(severity: str) -> int:
    return settings.EXCEPTION_MAX_DAYS.get(severity, settings.EXCEPTION_MAX_DAYS["default"])


def _worst_severity(target_kind: str, target: str) -> str:
    """The worst severity the target has on any image, which caps how long it may be excepted."""
    if target_kind == PolicyException.Target.RULE:
        return "default"
    field = "vulnerability_id" if target_kind == PolicyException.Target.VULNERABILITY else "package__name"
    seen = set(Finding.objects.filter(**{field: target}).values_list("severity", flat=True))
    return next((s for s in SEVERITY_ORDER if s in seen), "default")


def exception_request(*, user, scope, target_kind, target, reason, justification, expires_at,
                      team=None, recipe=None, digest="", ticket="", end_when_fixed=True) -> PolicyException:
    """Validate and record a request; it applies only once a reviewer approves it."""
    # Before anything reads them: an unknown scope would match no branch of builds_in_scope and stand
    # for every team's images (the fix check would then name another team's image to the requester).
    choices = {"scope": (scope, PolicyException.Scope), "target_kind": (target_kind, PolicyException.Target)}
    errors = {field: "Choose one of: " + ", ".join(str(label).lower() for label in kind.labels) + "."
              for field, (value, kind) in choices.items() if value not in kind.values}
    if errors:
        raise ValidationError(errors)
    if scope == PolicyException.Scope.GLOBAL and not is_security_reviewer(user):
        raise PermissionDenied("Only security reviewers may request an exception for every image.")
    if recipe is not None:
        team = recipe.team
    if scope != PolicyException.Scope.GLOBAL:
        if team is None:
            errors["scope"] = "Choose the team, image or build the exception applies to."
        else:
            require_team_member(user, team)
    if scope in (PolicyException.Scope.RECIPE, PolicyException.Scope.IMAGE) and recipe is None:
        errors["scope"] = "Choose the image the exception applies to."
    if scope == PolicyException.Scope.IMAGE and not digest.startswith("sha256:"):
        errors["scope"] = "An image-scoped exception needs the image digest."
    if reason not in PolicyException.Reason.values:
        errors["reason"] = "Choose a reason: " + ", ".join(str(label).lower() for label in PolicyException.Reason.labels) + "."
    if len((justification or "").strip()) < MIN_JUSTIFICATION:
        errors["justification"] = f"Explain what, why and the compensating controls (at least {MIN_JUSTIFICATION} characters)."
    if not (target or "").strip():
        errors["target"] = "Name the vulnerability, rule or package."
    if ticket:
        try:
            if len(ticket) > TICKET_MAX:
                raise ValidationError("too long")
            URLValidator(schemes=["http", "https"])(ticket)
        except ValidationError:
            errors["ticket"] = f"A link to the ticket: an http or https URL of at most {TICKET_MAX} characters."
    now = timezone.now()
    severity = _worst_severity(target_kind, target)
    limit = max_days_for(severity)
    if expires_at is None or expires_at <= now:
        errors["expires_at"] = "An expiry date in the future is required."
    elif expires_at > now + datetime.timedelta(days=limit):
        errors["expires_at"] = f"At most {limit} days for {severity if severity != 'default' else 'this target'} (policy)."
    exception = PolicyException(
        scope=scope, team=team if scope != PolicyException.Scope.GLOBAL else None, recipe=recipe, digest=digest,
        target_kind=target_kind, target=(target or "").strip(), reason=reason, justification=(justification or "").strip(),
        ticket=ticket, end_when_fixed=end_when_fixed, expires_at=expires_at, requested_by=user,
        approvals_required=approvals_required_for(target_kind, (target or "").strip()))
    if not errors and (fixed := fix_already_available(exception)):
        errors["end_when_fixed"] = fixed
    if errors:
        raise ValidationError(errors)
    exception.save()
    audit_record(actor=user, action="exception.requested", target=exception, team=exception.team,
                 scope=scope, target_kind=target_kind, subject=exception.target, expires_at=expires_at.isoformat(),
                 approvals_required=exception.approvals_required)
    return exception


def fix_already_available(exception: PolicyException) -> str:
    """Why an exception that ends when a fix is available would end as soon as it applied (a fixed
    version exists for its vulnerability or package on an image it covers), or "" when it would not."""
    kinds = {PolicyException.Target.VULNERABILITY: "vulnerability_id", PolicyException.Target.PACKAGE: "package__name"}
    if not exception.end_when_fixed or exception.target_kind not in kinds:
        return ""
    fixable = (Finding.objects.filter(scan__build__in=builds_in_scope(exception), **{kinds[exception.target_kind]: exception.target})
               .exclude(fixed_version="").select_related("package", "scan__build__recipe").order_by("id").first())
    if fixable is None:
        return ""
    return (f"A fix is available already: {fixable.package.name} {fixable.installed_version} → {fixable.fixed_version} "
            f"in {fixable.scan.build.recipe}. An exception that ends when a fix is available would end at once: "
            "rebuild with the fixed version, or ask for one that does not end when fixed.")


def _decide(*, user, exception, status, comment, allowed_from) -> PolicyException:
    with transaction.atomic():
        exception = PolicyException.objects.select_for_update().get(pk=exception.pk)
        if exception.status not in allowed_from:
            raise DecisionConflict(f"This exception is already {exception.get_status_display().lower()}.")
        exception.status, exception.decided_by, exception.decided_at = status, user, timezone.now()
        exception.decision_comment = comment
        exception.save()
        audit_record(actor=user, action=f"exception.{status}", target=exception, team=exception.team, comment=comment)
    builds_reevaluate(exception)
    return exception


def exception_reviewer_required(user) -> None:
    """Only security reviewers decide or revoke exceptions (the API asks before it reads the body)."""
    if not is_security_reviewer(user):
        raise PermissionDenied("Only security reviewers decide or revoke exceptions.")


def exception_decide(*, user, exception, approve: bool, comment: str = "", expires_at=None) -> PolicyException:
    """A security reviewer, never the requester, approves (optionally shortening) or denies.
    An approval that is the first of two leaves the exception awaiting a second reviewer."""
    exception_reviewer_required(user)
    if exception.requested_by_id == user.pk:
        raise PermissionDenied("You requested this exception; another reviewer must decide it.")
    if not approve and not comment.strip():
        raise ValidationError({"comment": "Say why the request is denied."})
    if approve:
        if fixed := fix_already_available(exception):
            raise ValidationError({"end_when_fixed": fixed})
        exception, active = exception_approve(user=user, exception=exception, comment=comment, expires_at=expires_at)
        if active:
            builds_reevaluate(exception)
        return exception
    return _decide(user=user, exception=exception, status=PolicyException.Status.DENIED, comment=comment,
                   allowed_from={PolicyException.Status.PENDING, PolicyException.Status.AWAITING_SECOND})


def exception_revoke(*, user, exception, comment: str) -> PolicyException:
    exception_reviewer_required(user)
    if not comment.strip():
        raise ValidationError({"comment": "Say why the exception is revoked."})
    return _decide(user=user, exception=exception, status=PolicyException.Status.REVOKED, comment=comment,
                   allowed_from={PolicyException.Status.APPROVED})


def exceptions_expire(*, now=None) -> int:
    """Periodic: approved exceptions past their expiry become expired, and their verdicts re-run;
    requests still awaiting a decision past their expiry expire too."""
    now = now or timezone.now()
    expired = 0
    for exception in PolicyException.objects.filter(status=PolicyException.Status.APPROVED, expires_at__lte=now):
        PolicyException.objects.filter(pk=exception.pk).update(status=PolicyException.Status.EXPIRED)
        audit_record(actor=None, action="exception.expired", target=exception, team=exception.team)
        builds_reevaluate(exception)
        expired += 1
    # A request nobody decided before its expiry can no longer apply: take it off the reviewers'
    # queue (it never applied, so no verdict changes).
    for exception in PolicyException.objects.filter(status__in=PolicyException.AWAITING_REVIEW, expires_at__lte=now):
        if PolicyException.objects.filter(pk=exception.pk, status=exception.status).update(
                status=PolicyException.Status.EXPIRED, decision_comment="Expired before a decision."):
            audit_record(actor=None, action="exception.expired_undecided", target=exception, team=exception.team)
            expired += 1
    return expired


def builds_in_scope(exception: PolicyException):
    """The latest build of every recipe the exception's scope covers."""
    builds = Build.objects.filter(status=Build.Status.SUCCEEDED, scan__status="done")
    if exception.scope == PolicyException.Scope.TEAM:
        builds = builds.filter(team=exception.team)
    elif exception.scope in (PolicyException.Scope.RECIPE, PolicyException.Scope.IMAGE):
        builds = builds.filter(recipe=exception.recipe)
        if exception.scope == PolicyException.Scope.IMAGE:
            builds = builds.filter(digest=exception.digest)
    return latest_of_each_recipe(builds)


def builds_reevaluate(exception: PolicyException) -> int:
    """The verdicts the exception's decision, revocation or expiry changes; a published image it
    no longer covers and that now fails alerts its team."""
    return verdicts_reevaluate(builds_in_scope(exception), trigger="exception")["builds"]
