"""Teams in the REST API, with the pages' rules (the services check who may change what): a
team's members and alert settings; members added by user name, roles changed, members removed."""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from portal.models import Membership, Team
from portal.rbac import visible_teams
from portal.teams import services


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "role"]


class TeamSerializer(serializers.ModelSerializer):
    members = MemberSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["slug", "name", "members"]


class AlertsSerializer(serializers.Serializer):
    webhook_url = serializers.CharField(allow_blank=True, max_length=200, help_text="http(s) URL; empty turns it off")
    alert_email = serializers.CharField(allow_blank=True, max_length=254, help_text="E-mail address; empty turns it off")


class MemberAddSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


def _invalid(error: DjangoValidationError):
    raise ValidationError(error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages})


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The user's teams (all for reviewers and platform admins), each with its members."""

    serializer_class = TeamSerializer
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"  # team slugs may hold '.'

    def get_queryset(self):
        return visible_teams(self.request.user).prefetch_related("memberships__user").order_by("slug")

    def _managed_team(self):
        """The team, if the user may change it: refused before the body is read, so a plain member
        learns 403, not which fields are missing."""
        team = self.get_object()
        if not services.can_manage_team(self.request.user, team):
            raise PermissionDenied(f"Only owners of team {team.name} and platform admins manage it.")
        return team

    def _membership(self, team, membership_id):
        return get_object_or_404(Membership.objects.select_related("user", "team"), team=team, pk=membership_id)

    @extend_schema(request=AlertsSerializer, responses={200: AlertsSerializer, 400: dict, 403: dict, 404: dict})
    @action(detail=True, methods=["put"])
    def alerts(self, request, slug=None):
        team = self._managed_team()
        given = AlertsSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            team = services.team_alerts_update(user=request.user, team=team, **given.validated_data)
        except DjangoValidationError as error:
            _invalid(error)
        return Response(AlertsSerializer({"webhook_url": team.webhook_url, "alert_email": team.alert_email}).data)

    @extend_schema(request=MemberAddSerializer, responses={201: MemberSerializer, 400: dict, 403: dict, 404: dict})
    @action(detail=True, methods=["post"])
    def members(self, request, slug=None):
        team = self._managed_team()
        given = MemberAddSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            membership = services.membership_add(user=request.user, team=team, **given.validated_data)
        except DjangoValidationError as error:
            _invalid(error)
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RoleSerializer, responses={200: MemberSerializer, 400: dict, 403: dict, 404: dict})
    @action(detail=True, methods=["put"], url_path=r"members/(?P<membership_id>[0-9]+)/role", url_name="member-role")
    def member_role(self, request, slug=None, membership_id=None):
        membership = self._membership(self._managed_team(), membership_id)
        given = RoleSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            membership = services.membership_role_change(user=request.user, membership=membership, role=given.validated_data["role"])
        except DjangoValidationError as error:
            _invalid(error)
        return Response(MemberSerializer(membership).data)

    @extend_schema(request=None, responses={204: None, 400: dict, 403: dict, 404: dict})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<membership_id>[0-9]+)", url_name="member-remove")
    def member_remove(self, request, slug=None, membership_id=None):
        membership = self._membership(self._managed_team(), membership_id)
        try:
            services.membership_remove(user=request.user, membership=membership)
        except DjangoValidationError as error:
            _invalid(error)
        return Response(status=status.HTTP_204_NO_CONTENT)
