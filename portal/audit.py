"""One function to write the audit log, so every decision is recorded the same way."""
from portal.models import AuditEvent


def audit_record(*, actor, action: str, target, team=None, **data) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=type(target).__name__,
        target_id=str(target.pk),
        team=team,
        data=data,
    )
