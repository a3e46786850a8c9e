"""DRF authentication by personal API token: `Authorization: Token <secret>`, as before tokens
expired, so clients keep their header."""
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from portal.accounts.tokens import TokenRefused, token_authenticate


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header parsing and 401 challenge (`WWW-Authenticate: Token`), our tokens: an expired,
    rotated or revoked one is refused with a message saying which."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        try:
            token = token_authenticate(key)
        except TokenRefused as refused:
            raise AuthenticationFailed(str(refused)) from None
        return token.user, token
