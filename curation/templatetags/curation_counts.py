"""Counts the catalog's pages show wherever they are included, without each view passing them."""
from django import template

from catalog.models import BaseImage, ProposalState

register = template.Library()


@register.simple_tag
def pending_base_proposals() -> int:
    """How many proposed base images wait for a platform admin (one COUNT query)."""
    return BaseImage.objects.filter(proposal_state=ProposalState.PENDING).count()
