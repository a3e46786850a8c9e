"""The registry's token endpoint (the `realm` in its `auth: token` config): `docker login` and every
pull of a person or a robot ask here, with HTTP Basic credentials, for a token per request scope.

Credentials: a robot's login (`robot+<team>+<name>`) and secret, or a person's user name and
password (through Django's authentication, so account lockouts apply). Wrong credentials answer
401; right ones get a token granting what grants.principal_grant allows of the scopes asked, which
may be nothing (Distribution's rule: the registry, not the token server, refuses the operation).
"""
import base64
import binascii

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from adapters.factory import token_issuer
from adapters.registry_tokens import scopes_parse
from builds.registry_access.grants import ANONYMOUS, Principal, principal_grant
from portal.accounts.passwords import PasswordChangeFirst, password_change_check
from portal.rbac import is_security_reviewer, teams_of
from portal.robots.services import robot_authenticate


def _basic(request) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    return user, password


def _principal(request) -> Principal | None:
    """Who the credentials name; None when they are wrong."""
    credentials = _basic(request)
    if credentials is None:
        return ANONYMOUS
    login, secret = credentials
    if login.startswith("robot+"):
        robot = robot_authenticate(login, secret)
        return Principal("robot", robot.username, frozenset({robot.team.slug})) if robot else None
    user = authenticate(request, username=login, password=secret)
    if user is None or not user.is_active:
        return None
    password_change_check(user)  # a one-time password logs in to the portal only, to be replaced
    return Principal("user", user.username, frozenset(teams_of(user).values_list("slug", flat=True)),
                     reviewer=is_security_reviewer(user))


def _refused(message: str, status: int = 401) -> JsonResponse:
    response = JsonResponse({"errors": [{"code": "UNAUTHORIZED", "message": message}]}, status=status)
    response["WWW-Authenticate"] = 'Basic realm="image-portal registry"'
    return response


@login_not_required
@require_GET
def registry_token(request):
    issuer = token_issuer()
    if issuer is None:
        return JsonResponse({"errors": [{"code": "UNAVAILABLE", "message": "This portal issues no registry tokens "
                                         "(PORTAL_REGISTRY_TOKEN_KEY_FILE is not set up)."}]}, status=503)
    if request.GET.get("service", settings.REGISTRY_TOKEN_SERVICE) != settings.REGISTRY_TOKEN_SERVICE:
        return _refused(f"This token server serves {settings.REGISTRY_TOKEN_SERVICE!r} only.", status=400)
    try:
        principal = _principal(request)
    except PasswordChangeFirst as refused:
        return _refused(str(refused))
    if principal is None:
        return _refused("Wrong user name or secret (or the robot expired or was revoked).")
    granted = [principal_grant(principal, access) for access in scopes_parse(request.GET.getlist("scope"))]
    token = issuer.issue(subject=principal.subject, access=granted, ttl=settings.REGISTRY_TOKEN_TTL_SECONDS)
    return JsonResponse({"token": token, "access_token": token, "expires_in": settings.REGISTRY_TOKEN_TTL_SECONDS,
                         "issued_at": timezone.now().isoformat()})
