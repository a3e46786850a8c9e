"""POST /api/token/: a user's API token for a username and password (the only public API call)."""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken


class TokenView(ObtainAuthToken):
    """The same token on every call, until an admin deletes it."""

    @extend_schema(auth=[], operation_id="token_create",
                   responses={200: inline_serializer("Token", {"token": serializers.CharField()})})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
