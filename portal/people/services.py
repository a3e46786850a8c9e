"""Writes of people: user accounts and their global roles, by platform admins only. Whatever the
door, the portal never ends up without an active platform admin, and each change is audited."""
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction

from portal.accounts.models import PasswordChangeRequired
from portal.accounts.passwords import password_change_require
from portal.accounts.tokens import live_tokens_of, token_revoke
from portal.audit import audit_record
from portal.models import GlobalRole
from portal.rbac import is_platform_admin


def people_admin_required(user) -> None:
    if not is_platform_admin(user):
        raise PermissionDenied("Only platform admins manage people and global roles. Ask a platform admin.")


def one_time_password() -> str:
    """Random, long enough for any validator, shown once to the admin who passes it on."""
    return secrets.token_urlsafe(15)


def username_problems(username: str) -> list[str]:
    """What is wrong with `username` (already stripped) for a new user: empty, characters, length, taken."""
    if not username:
        return ["Enter a user name, e.g. jdoe."]
    problems = []
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        problems = ["A user name holds letters, digits and @ . + - _ only."]
    if len(username) > 150:
        problems = ["A user name has at most 150 characters."]
    elif get_user_model().objects.filter(username__iexact=username).exists():
        problems = [f"A user named {username} already exists."]
    return problems


EMAIL_PROBLEM = "Enter an e-mail address, e.g. jdoe@example.com."


def email_valid(email: str) -> bool:
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


@transaction.atomic
def user_create(*, actor, username: str, email: str) -> tuple:
    """A new active user (no team, no global role) and a one-time password shown this once, which
    they must replace with their own before anything else."""
    people_admin_required(actor)
    username, email = (username or "").strip(), (email or "").strip()
    errors = {"username": problems} if (problems := username_problems(username)) else {}
    if not email_valid(email):
        errors["email"] = [EMAIL_PROBLEM]
    if errors:
        raise ValidationError(errors)
    password = one_time_password()
    person = get_user_model().objects.create_user(username=username, email=email, password=password)
    password_change_require(user=person, by=actor, reason=PasswordChangeRequired.Reason.CREATED)
    audit_record(actor=actor, action="user.created", target=person, username=username, email=email)
    return person, password


def _kind_check(kind: str) -> str:
    if kind not in GlobalRole.Kind.values:
        raise ValidationError({"kind": ["Choose a global role: platform admin or security reviewer."]})
    return kind


def _platform_admins_locked():
    """Active platform admins (role holders and superusers), their rows locked: two revocations at
    once cannot both see another admin left."""
    User = get_user_model()
    return set(User.objects.select_for_update().filter(is_active=True).filter(
        pk__in=GlobalRole.objects.filter(kind=GlobalRole.Kind.PLATFORM_ADMIN).values("user")).values_list("pk", flat=True)) | set(
        User.objects.select_for_update().filter(is_active=True, is_superuser=True).values_list("pk", flat=True))


@transaction.atomic
def global_role_grant(*, actor, user, kind: str) -> GlobalRole:
    people_admin_required(actor)
    _kind_check(kind)
    if not user.is_active:
        raise ValidationError({"kind": [f"{user.username} is deactivated; roles go to active users only."]})
    role, created = GlobalRole.objects.get_or_create(user=user, kind=kind)
    if created:
        audit_record(actor=actor, action="user.role_granted", target=user, username=user.username, kind=kind)
    return role


@transaction.atomic
def global_role_revoke(*, actor, user, kind: str) -> None:
    people_admin_required(actor)
    _kind_check(kind)
    role = GlobalRole.objects.filter(user=user, kind=kind).first()
    if role is None:
        return
    if kind == GlobalRole.Kind.PLATFORM_ADMIN and not user.is_superuser and _platform_admins_locked() <= {user.pk}:
        raise ValidationError({"kind": [f"{user.username} is the last platform admin: make someone else a platform admin first."]})
    role.delete()
    audit_record(actor=actor, action="user.role_revoked", target=user, username=user.username, kind=kind)


@transaction.atomic
def user_deactivate(*, actor, user) -> None:
    """The user can no longer log in nor use API tokens; memberships and history stay."""
    people_admin_required(actor)
    if not user.is_active:
        return
    if user.pk == actor.pk:
        raise ValidationError({"user": ["You cannot deactivate your own account; ask another platform admin."]})
    if user.pk in (admins := _platform_admins_locked()) and admins <= {user.pk}:
        raise ValidationError({"user": [f"{user.username} is the last platform admin: make someone else a platform admin first."]})
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit_record(actor=actor, action="user.deactivated", target=user, username=user.username)


@transaction.atomic
def user_reactivate(*, actor, user) -> None:
    people_admin_required(actor)
    if user.is_active:
        return
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(actor=actor, action="user.reactivated", target=user, username=user.username)


@transaction.atomic
def user_password_reset(*, actor, user) -> str:
    """A new one-time password for `user` (shown this once to the admin who passes it on). Their old
    password and their sessions stop working at once; they must set their own password before doing
    anything else, API tokens included."""
    people_admin_required(actor)
    if user.pk == actor.pk:
        raise ValidationError({"user": ["Change your own password on the Password page, with your current one."]})
    if user.is_superuser and not actor.is_superuser:
        raise ValidationError({"user": [f"{user.username} is a superuser: only a superuser resets their password."]})
    password = one_time_password()
    user.set_password(password)  # also ends their sessions: Django ties a session to the password hash
    user.save(update_fields=["password"])
    password_change_require(user=user, by=actor, reason=PasswordChangeRequired.Reason.RESET)
    # A reset often means the account is not trusted any more: its API tokens end with it, or whoever
    # holds one would be back in once the user chose a new password.
    revoked = [token_revoke(actor=actor, token=token).prefix for token in live_tokens_of(user)]
    audit_record(actor=actor, action="user.password_reset", target=user, username=user.username, tokens_revoked=revoked)
    return password
