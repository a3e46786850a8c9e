"""People in the REST API, for platform admins, with the People page's rules (portal.people.services
decides): users with their global roles, teams and state; a new user or a reset password answered
with its one-time password, once; global roles granted and revoked; accounts deactivated and
reactivated; invitations by e-mail sent, listed, resent and revoked. Anyone else gets 403 on every route, before their ids or bodies are looked at."""
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from portal.api_schema import ErrorSerializer
from portal.models import GlobalRole, Invitation, Membership, Team
from portal.people import invitations, services
from portal.people.selectors import holds_one_time_password, people_with_roles, role_kinds


class PersonTeamSerializer(serializers.ModelSerializer):
    slug = serializers.CharField(source="team.slug", read_only=True)

    class Meta:
        model = Membership
        fields = ["slug", "role"]


class PersonSerializer(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True, help_text="May be empty (accounts made before the People page)")
    global_roles = serializers.SerializerMethodField()
    teams = PersonTeamSerializer(source="memberships", many=True, read_only=True)
    one_time_password = serializers.SerializerMethodField(
        help_text="True until the user replaces the password an admin gave them; until then they can use nothing else")

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_active", "is_superuser", "global_roles", "teams", "one_time_password",
                  "date_joined", "last_login"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=GlobalRole.Kind.choices)))
    def get_global_roles(self, person):
        return role_kinds(person)

    def get_one_time_password(self, person) -> bool:
        return holds_one_time_password(person)


class PersonIssuedSerializer(PersonSerializer):
    password = serializers.CharField(read_only=True, help_text="The one-time password: shown this once; give it to the user")

    class Meta(PersonSerializer.Meta):
        fields = ["password", *PersonSerializer.Meta.fields]
        read_only_fields = fields


class PersonCreateSerializer(serializers.Serializer):
    # Lengths only: the services check the rest (letters, digits and @.+-_; a name not taken; an address).
    username = serializers.CharField(max_length=150, help_text="e.g. jdoe: letters, digits and @ . + - _")
    email = serializers.CharField(max_length=254, help_text="e.g. jdoe@example.com")


class GlobalRoleSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=GlobalRole.Kind.choices)


KIND_PARAMETER = OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=GlobalRole.Kind.values)


def _invalid(error: DjangoValidationError):
    raise ValidationError(error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages})


# Reads are refused (403) to anyone but platform admins too: say so, as the writes' 403 is.
NOT_AN_ADMIN = OpenApiResponse(ErrorSerializer, description="Platform admins only")


class PlatformAdminsOnly:
    """403 to anyone but platform admins on every route, before ids or bodies are looked at; the
    services' refusals as 400 by field."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        try:
            services.people_admin_required(request.user)
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error))

    def _run(self, operation):
        try:
            return operation()
        except DjangoValidationError as error:
            _invalid(error)


@extend_schema_view(list=extend_schema(responses={200: PersonSerializer(many=True), 403: NOT_AN_ADMIN}),
                    retrieve=extend_schema(responses={200: PersonSerializer, 403: NOT_AN_ADMIN}))
class PersonViewSet(PlatformAdminsOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every user of the portal, with global roles, teams and whether they are active (platform admins)."""

    serializer_class = PersonSerializer

    def get_queryset(self):
        return people_with_roles()

    def _answer(self, person, *, password=None, code=status.HTTP_200_OK) -> Response:
        data = PersonSerializer(self.get_queryset().get(pk=person.pk)).data  # roles, teams and state as they are now
        if password is None:
            return Response(data, status=code)
        # The one-time password, on this answer only; no cache may keep it.
        return Response({"password": password, **data}, status=code, headers={"Cache-Control": "no-store"})

    @extend_schema(request=PersonCreateSerializer, responses={201: PersonIssuedSerializer})
    def create(self, request):
        """A new active user (no team, no global role) and their one-time password, shown this once:
        they must replace it with their own before they can do anything else."""
        given = PersonCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        person, password = self._run(lambda: services.user_create(actor=request.user, **given.validated_data))
        return self._answer(person, password=password, code=status.HTTP_201_CREATED)

    @extend_schema(request=GlobalRoleSerializer, responses={200: PersonSerializer})
    @action(detail=True, methods=["post"])
    def roles(self, request, pk=None):
        """Grant a global role (granting one held already changes nothing)."""
        person = self.get_object()
        given = GlobalRoleSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self._run(lambda: services.global_role_grant(actor=request.user, user=person, kind=given.validated_data["kind"]))
        return self._answer(person)

    @extend_schema(request=None, parameters=[KIND_PARAMETER], responses={200: PersonSerializer})
    @action(detail=True, methods=["delete"], url_path=r"roles/(?P<kind>[^/.]+)", url_name="role-revoke")
    def role_revoke(self, request, pk=None, kind=None):
        """Revoke a global role; never the last active platform admin's."""
        person = self.get_object()
        self._run(lambda: services.global_role_revoke(actor=request.user, user=person, kind=kind))
        return self._answer(person)

    @extend_schema(request=None, responses={200: PersonSerializer})
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        """The user can no longer log in nor use API tokens; their teams and history stay. Never
        yourself, nor the last active platform admin."""
        person = self.get_object()
        self._run(lambda: services.user_deactivate(actor=request.user, user=person))
        return self._answer(person)

    @extend_schema(request=None, responses={200: PersonSerializer})
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        person = self.get_object()
        self._run(lambda: services.user_reactivate(actor=request.user, user=person))
        return self._answer(person)

    @extend_schema(request=None, responses={200: PersonIssuedSerializer})
    @action(detail=True, methods=["post"], url_path="password-reset", url_name="password-reset")
    def password_reset(self, request, pk=None):
        """A new one-time password, shown this once; the old password and sessions stop working now,
        and the user must choose their own password before anything else (API tokens included)."""
        person = self.get_object()
        password = self._run(lambda: services.user_password_reset(actor=request.user, user=person))
        return self._answer(person, password=password)


class InvitationSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    invited_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    overdue = serializers.BooleanField(read_only=True, help_text="The link has expired: resend or revoke")

    class Meta:
        model = Invitation
        fields = ["id", "email", "team", "role", "state", "created", "sent_at", "expires_at", "overdue", "invited_by"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    # Lengths and shapes only: the services check the rest (an address nobody has or was invited with).
    email = serializers.CharField(max_length=254, help_text="e.g. jdoe@example.com")
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True,
                                        help_text="Slug of the team they join on accepting (optional)")
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False, allow_blank=True,
                                   help_text="Their role in the team (member when not given); only with a team")


@extend_schema_view(list=extend_schema(responses={200: InvitationSerializer(many=True), 403: NOT_AN_ADMIN}))
class InvitationViewSet(PlatformAdminsOnly, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Pending invitations by e-mail (platform admins): the invitee gets a link, works once, for
    INVITATION_DAYS days, to choose their user name and password. The token is never answered."""

    serializer_class = InvitationSerializer

    def get_queryset(self):
        return invitations.pending_invitations()

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def create(self, request):
        """Send an invitation; refused (400, by field) for an address a user has or a pending invitation has."""
        given = InvitationCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        invitation, _ = self._run(lambda: invitations.invitation_create(user=request.user, **given.validated_data))
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def _change(self, request, change):
        invitation = self.get_object()
        self._run(lambda: change(user=request.user, invitation=invitation))
        invitation.refresh_from_db()
        return Response(InvitationSerializer(invitation).data)

    @extend_schema(request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """The link stops working; the invitation leaves the pending list."""
        return self._change(request, invitations.invitation_revoke)

    @extend_schema(request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        """A new link, e-mailed again, working for INVITATION_DAYS from now; the old link stops working."""
        return self._change(request, invitations.invitation_resend)
