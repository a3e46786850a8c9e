"""API tokens in the REST API: POST /api/token/ (user name and password -> a new token), and the
caller's own tokens under /api/tokens/ (list, read, rotate, revoke). New tokens need the password
(or a session, on the page): a token cannot mint others, so revoking a leaked one ends it, and
what it rotated shows in its owner's list."""
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.lockout import lockout_response
from portal.accounts.models import ApiToken
from portal.accounts.tokens import IssuedToken, token_issue, token_revoke, token_rotate, tokens_of


class ApiTokenSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True, help_text="active, expired, rotated or revoked")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "state", "created", "expires_at", "last_used_at", "ended_at", "replaced_by"]
        read_only_fields = fields


class IssuedTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret: shown this once, send it as `Authorization: Token <secret>`")

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(required=False, default="api", max_length=60, help_text="What the token is for")


def _issued(issued: IssuedToken, code=status.HTTP_201_CREATED) -> Response:
    data = ApiTokenSerializer(issued.token).data
    # A secret in the body: no cache may keep it.
    return Response({"token": issued.secret, **data}, status=code, headers={"Cache-Control": "no-store"})


def _refused(error: DjangoValidationError):
    raise ValidationError(getattr(error, "message_dict", {"detail": error.messages}))


class TokenObtainView(APIView):
    """A new token for a user name and password. Failures count towards the lockout; a locked user
    name or address gets 429 with Retry-After, even with the right password."""

    authentication_classes = []
    permission_classes = [AllowAny]
    # Scripts log in with a form post (`curl -d username=... -d password=...`) as well as with JSON.
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(auth=[], operation_id="token_create", request=LoginSerializer,
                   responses={200: IssuedTokenSerializer, 400: OpenApiResponse(description="Wrong credentials"),
                                                       429: OpenApiResponse(description="Locked out; see Retry-After")})
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credentials = {"username": data.validated_data["username"], "password": data.validated_data["password"]}
        # Django's request, not DRF's: django-axes marks the lockout on the object it is given.
        user = authenticate(request._request, **credentials)
        if user is None:
            if getattr(request._request, "axes_locked_out", False):
                return lockout_response(request._request, None, {"username": credentials["username"]})
            raise ValidationError({"non_field_errors": ["Unable to log in with provided credentials."]})
        try:
            issued = token_issue(user=user, name=data.validated_data["name"])
        except DjangoValidationError as error:
            _refused(error)
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error))
        # 200, as DRF's obtain_auth_token answered: clients that read `token` keep working.
        return _issued(issued, code=status.HTTP_200_OK)


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own tokens; another user's token is not found (404)."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types, with no user
            return ApiToken.objects.none()
        return tokens_of(self.request.user)

    @extend_schema(request=None, responses={201: IssuedTokenSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """A new secret for this token (same name, a fresh lifetime); the old secret stops working."""
        try:
            issued = token_rotate(user=request.user, token=self.get_object(),
                                  presented=request.auth if isinstance(request.auth, ApiToken) else None)
        except DjangoValidationError as error:
            _refused(error)
        return _issued(issued)

    @extend_schema(request=None, responses={200: ApiTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """End this token now."""
        try:
            token = token_revoke(actor=request.user, token=self.get_object())
        except DjangoValidationError as error:
            _refused(error)
        return Response(ApiTokenSerializer(token).data)
