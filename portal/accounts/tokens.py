"""Personal API tokens: issue, rotate, revoke, and check one a request carries. Every door (the
token endpoint, the API tokens page and API, the admin) goes through these functions.

A secret is 43 random URL-safe characters after `ipt_` (image portal token: secret scanners, ours
included, can recognise it). It is looked up by its SHA-256, which is what the database keeps:
random secrets of this length need no slow hash, and the digest's unique index makes the lookup
exact without comparing secrets in Python."""
import datetime
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from portal.accounts.models import ApiToken
from portal.accounts.passwords import password_change_check
from portal.audit import audit_record
from portal.rbac import is_platform_admin

SECRET_PREFIX = "ipt_"
SHOWN_PREFIX_LENGTH = 12  # "ipt_" and 8 random characters: enough to tell a user's tokens apart
LAST_USED_PRECISION = datetime.timedelta(minutes=5)  # no write on every API call


class TokenRefused(Exception):
    """A request's token cannot authenticate it; the message says why (shown to the client)."""


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once; not stored anywhere


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tokens_of(user):
    """The user's tokens, newest first (all states: the page and API show ended ones too)."""
    return ApiToken.objects.filter(user=user)


def live_tokens_of(user):
    return tokens_of(user).filter(ended_at__isnull=True, expires_at__gt=timezone.now())


def _new(user, name: str, now) -> IssuedToken:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=secret[:SHOWN_PREFIX_LENGTH], digest=token_digest(secret),
                                    created=now, expires_at=now + datetime.timedelta(hours=settings.API_TOKEN_TTL_HOURS))
    return IssuedToken(token=token, secret=secret)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. ci or laptop, so you can tell it apart later."})
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise ValidationError({"name": "A token name has at most 60 characters."})
    return name


def token_issue(*, user, name: str) -> IssuedToken:
    """A new token for `user`, who has just proved who they are (password or session)."""
    name = _clean_name(name)
    if not user.is_active:
        raise PermissionDenied("This account is disabled.")
    password_change_check(user)  # a one-time password opens the password page, nothing else
    with transaction.atomic():
        # The user row is the lock: two requests at once cannot both pass the limit.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if live_tokens_of(user).count() >= settings.API_TOKEN_MAX_PER_USER:
            raise ValidationError({"name": f"You have {settings.API_TOKEN_MAX_PER_USER} unexpired tokens, the most allowed: "
                                           "revoke one you no longer use (API tokens page, or POST /api/tokens/<id>/revoke/)."})
        issued = _new(user, name, timezone.now())
        audit_record(actor=user, action="account.token.issued", target=issued.token, name=name, prefix=issued.token.prefix,
                     expires_at=issued.token.expires_at.isoformat())
    return issued


def _owned(user, token: ApiToken) -> None:
    if token.user_id != user.pk:
        raise PermissionDenied("This token is not yours.")


def token_rotate(*, user, token: ApiToken, presented: ApiToken | None = None) -> IssuedToken:
    """A new secret with the same name and a fresh lifetime; the old secret stops working at once.
    Expired tokens may be rotated (that is how their owner renews them); revoked ones may not.
    `presented`: the token the request was authenticated with, if any. A token renews only itself:
    rotating another (an expired one brought back, say) would mint a secret, which only its owner
    signed in with their password may do."""
    _owned(user, token)
    if presented is not None and presented.pk != token.pk:
        raise PermissionDenied("A token may rotate only itself; rotate your other tokens from your account page.")
    with transaction.atomic():
        old = ApiToken.objects.select_for_update().get(pk=token.pk)
        if old.ended_at:
            raise ValidationError(f"This token was {old.get_ended_how_display().lower()} on {old.ended_at:%Y-%m-%d %H:%M} UTC "
                                  "and cannot be rotated; create a new one.")
        now = timezone.now()
        issued = _new(user, old.name, now)
        old.ended_at, old.ended_how, old.replaced_by = now, ApiToken.Ended.ROTATED, issued.token
        old.save(update_fields=["ended_at", "ended_how", "replaced_by"])
        audit_record(actor=user, action="account.token.rotated", target=old, name=old.name, prefix=old.prefix,
                     new_token=issued.token.pk, new_prefix=issued.token.prefix)
    token.refresh_from_db()
    return issued


def token_revoke(*, actor, token: ApiToken) -> ApiToken:
    """End a token now. Its owner may; so may a platform admin (a token of someone who left, or leaked)."""
    if token.user_id != actor.pk and not is_platform_admin(actor):
        raise PermissionDenied("This token is not yours.")
    with transaction.atomic():
        row = ApiToken.objects.select_for_update().get(pk=token.pk)
        if row.ended_at:
            raise ValidationError(f"This token already ended ({row.get_ended_how_display().lower()} on "
                                  f"{row.ended_at:%Y-%m-%d %H:%M} UTC).")
        row.ended_at, row.ended_how = timezone.now(), ApiToken.Ended.REVOKED
        row.save(update_fields=["ended_at", "ended_how"])
        audit_record(actor=actor, action="account.token.revoked", target=row, name=row.name, prefix=row.prefix,
                     owner=row.user.get_username())
    token.refresh_from_db()
    return token


def token_authenticate(secret: str) -> ApiToken:
    """The live token whose secret this is, or TokenRefused saying why not."""
    token = ApiToken.objects.select_related("user").filter(digest=token_digest(secret)).first()
    if token is None:
        if not secret.startswith(SECRET_PREFIX):
            raise TokenRefused("Invalid token: tokens from before tokens expired are no longer accepted; create a new one "
                               "with POST /api/token/ or on the API tokens page.")
        raise TokenRefused("Invalid token.")
    if token.ended_how == ApiToken.Ended.ROTATED:
        raise TokenRefused(f"Token {token.prefix}… was rotated on {token.ended_at:%Y-%m-%d %H:%M} UTC: use the new secret "
                           "you were given then, or create a new token.")
    if token.ended_at:
        raise TokenRefused(f"Token {token.prefix}… was revoked on {token.ended_at:%Y-%m-%d %H:%M} UTC; create a new token "
                           "(POST /api/token/ or the API tokens page).")
    now = timezone.now()
    if token.expires_at <= now:
        raise TokenRefused(f"Token {token.prefix}… expired on {token.expires_at:%Y-%m-%d %H:%M} UTC; rotate it on the API "
                           "tokens page or create a new one with POST /api/token/.")
    if not token.user.is_active:
        raise TokenRefused("User inactive or deleted.")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
