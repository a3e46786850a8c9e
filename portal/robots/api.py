"""Robot accounts in the REST API, with the page's rules (the services check the team): the secret
is in the answer to create and rotate only."""
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from portal.models import RobotAccount
from portal.rbac import teams_of
from portal.robots.services import robot_create, robot_revoke, robot_rotate, robots_visible_to


class RobotSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    username = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)

    class Meta:
        model = RobotAccount
        fields = ["id", "team", "name", "username", "state", "expires_at", "revoked_at", "created", "rotated", "last_used"]


class RobotInputSerializer(serializers.Serializer):
    team = serializers.SlugField()
    name = serializers.CharField(max_length=40)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: in ROBOT_DEFAULT_DAYS")


class RotateInputSerializer(serializers.Serializer):
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


WITH_SECRET = inline_serializer("RobotWithSecret", {"robot": RobotSerializer(), "secret": serializers.CharField(
    help_text="Shown in this answer only: store it now (e.g. as a pull secret)")})


def _invalid(error: DjangoValidationError):
    raise ValidationError(error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages})


class RobotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RobotSerializer

    def get_queryset(self):
        return robots_visible_to(self.request.user)

    @extend_schema(request=RobotInputSerializer, responses={201: WITH_SECRET, 400: dict, 403: dict})
    def create(self, request):
        given = RobotInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        team = teams_of(request.user).filter(slug=given.validated_data["team"]).first()
        if team is None:
            return Response({"detail": "You are not a member of that team."}, status=status.HTTP_403_FORBIDDEN)
        try:
            robot, secret = robot_create(user=request.user, team=team, name=given.validated_data["name"],
                                         expires_at=given.validated_data.get("expires_at"))
        except DjangoValidationError as error:
            _invalid(error)
        return Response({"robot": RobotSerializer(robot).data, "secret": secret}, status=status.HTTP_201_CREATED)

    @extend_schema(request=RotateInputSerializer, responses={200: WITH_SECRET, 400: dict, 403: dict, 404: dict})
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        robot = self.get_object()
        given = RotateInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            secret = robot_rotate(user=request.user, robot=robot, expires_at=given.validated_data.get("expires_at"))
        except DjangoValidationError as error:
            _invalid(error)
        robot.refresh_from_db()
        return Response({"robot": RobotSerializer(robot).data, "secret": secret})

    @extend_schema(request=None, responses={200: RobotSerializer, 403: dict, 404: dict})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return Response(RobotSerializer(robot_revoke(user=request.user, robot=self.get_object())).data)
