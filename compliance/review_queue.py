"""A security reviewer's queue, for the home page and the navigation: exceptions waiting for a
decision and published images whose latest verdict now fails (a re-evaluation or an expired
exception blocked them after publication)."""
from dataclasses import dataclass

from compliance.exceptions.selectors import exceptions_visible_to
from compliance.models import PolicyException
from compliance.selectors import current_images
from portal.rbac import visible_teams


def pending_exceptions_count(user) -> int:
    """One query: what the Exceptions tab 'pending' counts for this user."""
    return exceptions_visible_to(user).filter(status__in=PolicyException.AWAITING_REVIEW).count()


def blocked_published_images(user):
    """Current images the user may see that were published and whose latest verdict fails, the
    most recently blocked first (each with `verdict_at`)."""
    return (current_images(visible_teams(user), state="failing").exclude(published_reference="")
            .select_related("recipe", "team").order_by("-verdict_at", "-pk"))


@dataclass(frozen=True)
class ReviewQueue:
    pending_exceptions: int
    blocked_images: list
    blocked_total: int


def review_queue(user, *, limit: int = 10) -> ReviewQueue:
    blocked = blocked_published_images(user)
    return ReviewQueue(pending_exceptions=pending_exceptions_count(user), blocked_images=list(blocked[:limit]),
                       blocked_total=blocked.count())
