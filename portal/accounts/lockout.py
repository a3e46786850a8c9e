"""Lockout of password guessing, on django-axes: its authentication backend refuses a locked user
name or client address before the password is checked, on every door that calls Django's
`authenticate` with the request (the login page, POST /api/token/).

What the portal adds: a limit per lockout parameter (a user name locks sooner than an address an
office shares), a success that resets only its own user name's failures (not the address's, or one
account of an attacker's would reset the count of their guesses at others), the lockout answer that
says until when (login page, or JSON with Retry-After for the API), the client address behind
PORTAL_PROXY_COUNT proxies, and unlocking by platform admins, audited."""
import datetime
import ipaddress
import math

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max, Sum
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone

from portal.audit import audit_record
from portal.rbac import is_platform_admin


def failure_limits() -> dict[str, int]:
    return {"username": settings.LOGIN_FAILURE_LIMIT, "ip_address": settings.LOGIN_FAILURE_LIMIT_PER_IP}


class LockoutHandler(AxesDatabaseHandler):
    """axes's database handler (failures stored in AccessAttempt, shared by every web process) with a
    limit for each lockout parameter."""

    def _counts(self, request, credentials) -> list[tuple[int, int, datetime.datetime | None]]:
        """(failures, limit, last failure) per lockout parameter, within the cool-off window."""
        limits = failure_limits()
        found = []
        # axes gives one queryset per entry of AXES_LOCKOUT_PARAMETERS, in that order.
        for parameter, attempts in zip(settings.AXES_LOCKOUT_PARAMETERS, self.get_user_attempts(request, credentials)):
            totals = attempts.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            found.append((totals["failures"] or 0, limits[parameter], totals["last"]))
        return found

    def get_failures(self, request, credentials=None) -> int:
        # axes compares this one number with AXES_FAILURE_LIMIT (the user-name limit): each count is
        # shifted by the difference between that limit and its own, so the comparison is exact for each.
        return max(failures + settings.AXES_FAILURE_LIMIT - limit for failures, limit, _ in self._counts(request, credentials))

    def locked_until(self, request, credentials=None) -> datetime.datetime | None:
        """When the lockout of this request's user name or address ends (the later of the two)."""
        ends = [last + settings.AXES_COOLOFF_TIME for failures, limit, last in self._counts(request, credentials)
                if failures >= limit and last is not None]
        return max(ends, default=None)

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def client_ip(request) -> str | None:
    """The client's address: the TCP peer, or behind PORTAL_PROXY_COUNT proxies that each append
    their peer to X-Forwarded-For, the entry the first proxy wrote (the ones before it are the
    client's to invent)."""
    hops = settings.PORTAL_PROXY_COUNT
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            try:
                return str(ipaddress.ip_address(forwarded[-hops]))
            except ValueError:
                pass  # a proxy that wrote no address: fall back to the peer rather than trust text
    return request.META.get("REMOTE_ADDR")


def lockout_retry(request, credentials=None) -> tuple[datetime.datetime, int]:
    """(until, seconds from now) for a locked request."""
    now = timezone.now()
    until = AxesProxyHandler.get_implementation().locked_until(request, credentials) or now + settings.AXES_COOLOFF_TIME
    return until, max(1, math.ceil((until - now).total_seconds()))


def lockout_message(until: datetime.datetime, seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return (f"Too many failed log-ins for this user name or from this address: locked until {until:%H:%M} UTC "
            f"(about {minutes} minute{'s' if minutes != 1 else ''}). Try again then, or ask a platform admin to unlock it.")


def lockout_response(request, original_response=None, credentials=None):
    """axes's lockout answer (AXES_LOCKOUT_CALLABLE): 429 with Retry-After; the login page again with
    the reason for pages, JSON for the API."""
    until, seconds = lockout_retry(request, credentials)
    message = lockout_message(until, seconds)
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": message, "locked_until": until.isoformat(), "retry_after_seconds": seconds}, status=429)
    else:
        username = get_client_username(request, credentials) or ""
        form = AuthenticationForm(request, initial={"username": username})
        response = render(request, "registration/login.html",
                          {"form": form, "lockout": message, "next": request.POST.get("next", "")}, status=429)
    response["Retry-After"] = str(seconds)
    return response


class LoginLockout:
    """The audit log's target for an unlock: a user name or a client address."""

    def __init__(self, key: str):
        self.pk = key


def lockout_clear(*, actor, username: str = "", ip_address: str = "") -> int:
    """Forget the failures of a user name and/or a client address, ending their lockout now.
    Platform admins (or the command line, actor None) only."""
    if actor is not None and not is_platform_admin(actor):
        raise PermissionDenied("Only platform admins unlock accounts.")
    if not username and not ip_address:
        raise ValidationError("Name a user name or a client address to unlock.")
    cleared = 0
    for field, value in (("username", username), ("ip_address", ip_address)):
        if value:
            count = AxesProxyHandler.reset_attempts(**{field: value})
            audit_record(actor=actor, action="account.lockout.cleared", target=LoginLockout(value), field=field,
                         failures_records=count)
            cleared += count
    return cleared
