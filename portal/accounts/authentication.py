"""DRF authentication: personal API tokens (`Authorization: Token <secret>`, as before tokens
expired, so clients keep their header) and the browser's session. Either way, a user who still
holds a one-time password is refused with a 403 saying to set their own password first."""
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied

from portal.accounts.passwords import PasswordChangeFirst, password_change_check
from portal.accounts.tokens import TokenRefused, token_authenticate


def _password_change_check(user) -> None:
    try:
        password_change_check(user)
    except PasswordChangeFirst as refused:
        raise PermissionDenied(str(refused)) from None


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header parsing and 401 challenge (`WWW-Authenticate: Token`), our tokens: an expired,
    rotated or revoked one is refused with a message saying which."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        try:
            token = token_authenticate(key)
        except TokenRefused as refused:
            raise AuthenticationFailed(str(refused)) from None
        _password_change_check(token.user)
        return token.user, token


class PortalSessionAuthentication(SessionAuthentication):
    """DRF's session authentication (CSRF enforced), for the pages' own calls and the browsable API."""

    def authenticate(self, request):
        found = super().authenticate(request)
        if found is not None:
            _password_change_check(found[0])
        return found
