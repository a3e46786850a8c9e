"""How many approvals an exception needs, and recording one reviewer's approval.

The rule: an exception needs two approvals, from two different security reviewers and neither
of them the requester, when it MAY waive a Critical finding:

- a vulnerability target graded Critical on any stored finding, or by any advisory that names it
  (by id or alias), so a CVE requested before it reaches an image is graded too;
- a package target ("every vulnerability of a package"): it also waives vulnerabilities
  published after the approval, so it may waive a Critical finding whatever the package has today;
- the vulnerability-threshold rule as target: it waives every blocking finding, Critical included.

Other rule targets (non-root user, secrets, approved base, lint) waive no vulnerability and need
one approval. The scope (image, team, global) does not change the count: a Critical finding
waived on one image is as serious as on many, and a global scope already needs a reviewer as
requester. The count is set at request and checked again at each approval (a later import may
have graded a vulnerability Critical); it never goes down. After the first of two approvals the
exception is "awaiting second approval" and does not apply; the second approval activates it.
"""
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.models import ExceptionApproval, Finding, PolicyException
from compliance.vulndb.lookup import advisories_named
from compliance.vulndb.severity import Severity, grade
from portal.audit import audit_record

THRESHOLD_RULE = "vulnerability-threshold"


class DecisionConflict(Exception):
    """Someone decided first, or this reviewer already approved; the caller shows the current state (HTTP 409)."""


def _advisory_grades_critical(vulnerability_id: str) -> bool:
    """Whether an advisory naming this id grades any package it affects Critical."""
    advisories = advisories_named(vulnerability_id).filter(withdrawn__isnull=True).only("record")[:50]
    for advisory in advisories:
        record = advisory.record
        for entry in record.get("affected") or [{}]:
            severity, _ = grade(vendor_urgency=(entry.get("ecosystem_specific") or {}).get("urgency"),
                                record_severity=entry.get("severity") or record.get("severity") or [],
                                database_specific={**(record.get("database_specific") or {}),
                                                   **(entry.get("database_specific") or {})})
            if severity == Severity.CRITICAL:
                return True
    return False


def approvals_required_for(target_kind: str, target: str) -> int:
    """2 when an exception on this target may waive a Critical finding (see the module doc), else 1."""
    if target_kind == PolicyException.Target.PACKAGE:
        return 2
    if target_kind == PolicyException.Target.RULE:
        return 2 if target == THRESHOLD_RULE else 1
    if Finding.objects.filter(vulnerability_id=target, severity=Severity.CRITICAL.label).exists():
        return 2
    return 2 if _advisory_grades_critical(target) else 1


def exception_approve(*, user, exception, comment: str = "", expires_at=None) -> tuple[PolicyException, bool]:
    """Record `user`'s approval; returns the exception and whether it now applies.

    The caller has checked that `user` is a reviewer and not the requester. Locks the row, so
    two reviewers approving at once are counted one after the other.
    """
    allowed = {PolicyException.Status.PENDING, PolicyException.Status.AWAITING_SECOND}
    with transaction.atomic():
        exception = PolicyException.objects.select_for_update().get(pk=exception.pk)
        if exception.status not in allowed:
            raise DecisionConflict(f"This exception is already {exception.get_status_display().lower()}.")
        if exception.approvals.filter(reviewer=user).exists():
            raise DecisionConflict("You already approved this exception; a second, different reviewer must approve it.")
        if expires_at is not None:
            if expires_at > exception.expires_at:
                raise ValidationError({"expires_at": "A reviewer may shorten the expiry, not extend it."})
            exception.expires_at = expires_at
        # The expiry job runs every few minutes: until it does, a request past its expiry is still
        # pending, and approving it (or shortening it into the past) would apply nothing but an audit lie.
        if exception.expires_at <= timezone.now():
            raise ValidationError({"expires_at": f"This exception's expiry ({exception.expires_at:%Y-%m-%d %H:%M} UTC) has "
                                                 "passed: it can no longer be approved. The team may request a new one."})
        exception.approvals_required = max(exception.approvals_required,
                                           approvals_required_for(exception.target_kind, exception.target))
        try:
            with transaction.atomic():
                ExceptionApproval.objects.create(exception=exception, reviewer=user, comment=comment)
        except IntegrityError:  # the unique constraint backs the check above
            raise DecisionConflict("You already approved this exception.") from None
        approvals = list(exception.approvals.values_list("reviewer__username", flat=True))
        active = len(approvals) >= exception.approvals_required
        if active:
            exception.status, exception.decided_by, exception.decided_at = PolicyException.Status.APPROVED, user, timezone.now()
            exception.decision_comment = comment
        else:
            exception.status = PolicyException.Status.AWAITING_SECOND
        exception.save()
        audit_record(actor=user, action="exception.approved" if active else "exception.first_approval", target=exception,
                     team=exception.team, comment=comment, approvals=approvals,
                     approvals_required=exception.approvals_required, expires_at=exception.expires_at.isoformat())
    return exception, active
