"""Invitations by e-mail, by platform admins: the invitee follows the link, picks a user name and a
password, and becomes a user (in the team, with the role, the admin chose). Every door (the People
page, the API, the public invitation page) calls these functions.

Only the SHA-256 of the random token is stored; the link works once, until it expires
(INVITATION_DAYS), and never after a revocation or a resend (which makes a new token). An
invitation carries the authority of the admin who sent it: once they are no longer an active
platform admin, it cannot be accepted."""
import datetime
import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.audit import audit_record
from portal.models import Invitation, Membership, Team
from portal.people.services import EMAIL_PROBLEM, email_valid, people_admin_required, username_problems
from portal.rbac import is_platform_admin
from portal.teams.services import membership_add

NO_LONGER_VALID = "This invitation is no longer valid; ask a platform admin for a new one."


class InvitationInvalid(Exception):
    """The token names no invitation that can be accepted now (unknown, used, revoked, expired):
    one answer for all, so nobody learns which tokens existed."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_link(token: str) -> str:
    # PORTAL_BASE_URL is where users reach the portal, the setting every e-mailed link uses.
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("invitation-accept", args=[token])


def _new_token(invitation: Invitation) -> str:
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation.token_sha256, invitation.sent_at = _digest(token), now
    invitation.expires_at = now + datetime.timedelta(days=settings.INVITATION_DAYS)
    return token


def _send(invitation: Invitation, token: str) -> str:
    """The e-mail with the link; what happened, for the audit log (a failed send still leaves the
    invitation pending: the admin sees it and resends)."""
    where = f" to team {invitation.team.name} ({invitation.get_role_display().lower()})" if invitation.team else ""
    text = (f"You are invited to the image portal{where}.\n\n"
            f"Open this link to choose your user name and password:\n{invitation_link(token)}\n\n"
            f"The link works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
            "If you did not expect this e-mail, ignore it.\n")
    try:
        send_mail("Your invitation to the image portal", text, None, [invitation.email])
        return "sent"
    except OSError as error:
        return f"failed: {error}"


def pending_invitations():
    """Invitations not yet accepted nor revoked (an overdue one is listed, marked, to be resent)."""
    return Invitation.objects.filter(state=Invitation.State.PENDING).select_related("team", "invited_by")


@transaction.atomic
def invitation_create(*, user, email: str, team: Team | None = None, role: str | None = None) -> tuple[Invitation, str]:
    """A pending invitation and its e-mail; returns it with the token (which only the e-mail carries
    otherwise). Refused, by field: a bad address, an address a user has, an address already invited."""
    people_admin_required(user)
    email, role = (email or "").strip(), (role or "").strip()
    errors = {}
    if not email_valid(email):
        errors["email"] = [EMAIL_PROBLEM]
    elif get_user_model().objects.filter(email__iexact=email).exists():
        errors["email"] = [f"A user with the e-mail {email} exists already: add them to a team on its page."]
    else:
        Invitation.objects.filter(state=Invitation.State.PENDING, email__iexact=email,
                                  expires_at__lte=timezone.now()).update(state=Invitation.State.EXPIRED)
        if Invitation.objects.select_for_update().filter(state=Invitation.State.PENDING, email__iexact=email).exists():
            errors["email"] = [f"{email} has a pending invitation already: resend it from the list instead."]
    if team is None and role:
        errors["role"] = ["Choose a team for the role, or leave the role empty."]
    elif role and role not in Membership.Role.values:
        errors["role"] = ["Choose a role: member or owner."]
    if errors:
        raise ValidationError(errors)
    invitation = Invitation(email=email, team=team, role=(role or Membership.Role.MEMBER) if team else "", invited_by=user)
    token = _new_token(invitation)
    invitation.save()
    mail = _send(invitation, token)
    audit_record(actor=user, action="user.invited", target=invitation, team=team, email=email,
                 role=invitation.role, mail=mail)
    return invitation, token


def _pending_locked(invitation: Invitation) -> Invitation:
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.state != Invitation.State.PENDING:
        raise ValidationError({"invitation": [f"The invitation of {locked.email} is {locked.get_state_display().lower()} already."]})
    return locked


@transaction.atomic
def invitation_revoke(*, user, invitation: Invitation) -> Invitation:
    people_admin_required(user)
    invitation = _pending_locked(invitation)
    invitation.state, invitation.ended_at = Invitation.State.REVOKED, timezone.now()
    invitation.save(update_fields=["state", "ended_at"])
    audit_record(actor=user, action="user.invitation_revoked", target=invitation, team=invitation.team, email=invitation.email)
    return invitation


@transaction.atomic
def invitation_resend(*, user, invitation: Invitation) -> tuple[Invitation, str]:
    """A new token and expiry, sent again; the old link stops working."""
    people_admin_required(user)
    invitation = _pending_locked(invitation)
    if get_user_model().objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError({"invitation": [f"A user with the e-mail {invitation.email} exists now: revoke this invitation."]})
    token = _new_token(invitation)
    invitation.save(update_fields=["token_sha256", "sent_at", "expires_at"])
    mail = _send(invitation, token)
    audit_record(actor=user, action="user.invitation_resent", target=invitation, team=invitation.team,
                 email=invitation.email, mail=mail)
    return invitation, token


def _acceptable(token: str, *, lock: bool = False) -> Invitation:
    digest = _digest(token or "")
    rows = Invitation.objects.select_for_update(of=("self",)) if lock else Invitation.objects
    invitation = rows.filter(token_sha256=digest).select_related("team", "invited_by").first()
    if (invitation is None or not hmac.compare_digest(invitation.token_sha256, digest)
            or invitation.state != Invitation.State.PENDING or invitation.overdue
            or invitation.invited_by is None or not invitation.invited_by.is_active
            or not is_platform_admin(invitation.invited_by)):
        raise InvitationInvalid(NO_LONGER_VALID)
    return invitation


def invitation_for_token(token: str) -> Invitation:
    """The invitation the link names, if it can be accepted now; else InvitationInvalid."""
    return _acceptable(token)


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str, password_again: str):
    """The invitee's new user, with the password they chose (no one-time password), in the team with
    the role of the invitation. The token works once: its row is locked, then marked accepted.
    Bad input (ValidationError, by field) leaves the invitation usable."""
    invitation = _acceptable(token, lock=True)
    username = (username or "").strip()
    errors = {"username": problems} if (problems := username_problems(username)) else {}
    User = get_user_model()
    if not password:
        errors["password"] = ["Choose a password."]
    elif password != password_again:
        errors["password_again"] = ["The two passwords differ: type the same password twice."]
    else:
        try:
            password_validation.validate_password(password, User(username=username, email=invitation.email))
        except ValidationError as error:
            errors["password"] = error.messages
    if errors:
        raise ValidationError(errors)
    person = User.objects.create_user(username=username, email=invitation.email, password=password)
    if invitation.team is not None:
        membership_add(user=invitation.invited_by, team=invitation.team, username=username, role=invitation.role)
    invitation.state, invitation.ended_at, invitation.accepted_user = Invitation.State.ACCEPTED, timezone.now(), person
    invitation.save(update_fields=["state", "ended_at", "accepted_user"])
    audit_record(actor=person, action="user.invitation_accepted", target=invitation, team=invitation.team,
                 email=invitation.email, username=username, role=invitation.role, invited_by=invitation.invited_by.username)
    return person
