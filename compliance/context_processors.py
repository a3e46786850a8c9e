"""What the navigation shows a security reviewer: how many exceptions wait for a decision."""
import functools

from compliance.review_queue import pending_exceptions_count
from portal.rbac import is_security_reviewer


def review_counts(request):
    """`pending_exceptions`: a callable the template calls only where it shows the count (the
    navigation, not htmx fragments), at most once per request: one count query for a reviewer,
    None for others."""

    @functools.cache
    def pending():
        user = getattr(request, "user", None)
        if user is None or not is_security_reviewer(user):
            return None
        return pending_exceptions_count(user)

    return {"pending_exceptions": pending}
