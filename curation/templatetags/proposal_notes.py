"""What a team reads about its proposed base images where it proposed them (the build page)."""
from django import template

from portal.models import AuditEvent

register = template.Library()


@register.simple_tag
def proposal_rejection_reason(base) -> str:
    """The reason the platform admin gave when rejecting `base` ("" when none was given): the
    audit record keeps it, so the team is told without a field of its own on the base."""
    if base.proposal_state != "rejected":
        return ""
    event = (AuditEvent.objects.filter(action="catalog.baseimage.rejected", target_type="BaseImage", target_id=str(base.pk))
             .order_by("-pk").first())
    return (event.data or {}).get("reason", "") if event else ""
