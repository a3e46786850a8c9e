"""Passwords someone else set: a user created by a platform admin, or whose password an admin reset,
holds a one-time password and must choose their own before doing anything else. Every door asks
here: the pages (portal/accounts/middleware.py), the API's session and token authentication, the
token endpoint and the registry's token server."""
from django.core.exceptions import PermissionDenied

from portal.accounts.models import PasswordChangeRequired
from portal.audit import audit_record

PAGE_MESSAGE = ("Choose your own password before you go on: the one you were given works for this first log-in only. "
                "Then the portal takes you where you were going.")
API_MESSAGE = ("This account still has the one-time password a platform admin gave it: log in to the portal and set your "
               "own password on /account/password/ first. Until then API calls with it are refused.")


class PasswordChangeFirst(PermissionDenied):
    """The user must change the one-time password before this request (the message says where)."""

    def __init__(self, message: str = API_MESSAGE):
        super().__init__(message)


def password_change_require(*, user, by, reason: str) -> PasswordChangeRequired:
    """Mark `user` as holding a password `by` chose (called by the services that set one)."""
    row, _ = PasswordChangeRequired.objects.update_or_create(user=user, defaults={"reason": reason, "set_by": by})
    return row


def password_change_pending(user) -> PasswordChangeRequired | None:
    """Why `user` must change their password first, or None (anonymous users never must)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return PasswordChangeRequired.objects.filter(user_id=user.pk).first()


def password_change_check(user) -> None:
    """Refuse (PasswordChangeFirst) a user who has not replaced their one-time password yet."""
    if getattr(user, "is_authenticated", False) and PasswordChangeRequired.objects.filter(user_id=user.pk).exists():
        raise PasswordChangeFirst()


def password_changed(*, user) -> None:
    """The user chose their own password (already set by the caller, who checked the old one):
    the one-time password requirement ends, and the change is recorded."""
    ended = PasswordChangeRequired.objects.filter(user=user).delete()[0] > 0
    audit_record(actor=user, action="user.password_changed", target=user, replaced_one_time_password=ended)
