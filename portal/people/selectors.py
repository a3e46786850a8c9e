"""Reads of people for the People page and API: every user with their teams, global roles and
whether they still hold a one-time password, in a fixed number of queries."""
from django.contrib.auth import get_user_model
from django.db.models import Prefetch

from portal.models import Membership


def people_with_roles():
    return get_user_model().objects.order_by("username").select_related("password_change_required").prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("team").order_by("team__slug")), "global_roles")


def role_kinds(person) -> list[str]:
    """The person's global role kinds, from the prefetched rows."""
    return sorted(role.kind for role in person.global_roles.all())


def holds_one_time_password(person) -> bool:
    """Whether the person has yet to replace a password an admin set (from the joined row; the
    descriptor's "does not exist" error is an AttributeError)."""
    return hasattr(person, "password_change_required")
