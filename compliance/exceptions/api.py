"""Exceptions in the REST API, with the same checks as the pages (the services enforce them)."""
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from builds.models import Build
from compliance.exceptions.selectors import exceptions_of_team, exceptions_visible_to
from compliance.exceptions.services import (
    MIN_JUSTIFICATION,
    DecisionConflict,
    exception_decide,
    exception_request,
    exception_reviewer_required,
    exception_revoke,
)
from compliance.models import ExceptionApproval, PolicyException
from portal.rbac import team_scope, visible_teams

# The ticket link is optional: "" when there is none, which a `format: uri` string would refuse.
# Requests are documented with a pattern that only generates links Django's URL check accepts
# (http(s), a host name of valid labels, a path); the check itself accepts more (ftp, IPs, ports).
TICKET_PATTERN = r"^(https?://([a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\.){1,3}[a-z]{2,12}(/[A-Za-z0-9._~-]{1,40}){0,4})?$"


@extend_schema_field({"type": "string", "maxLength": 200, "pattern": TICKET_PATTERN,
                      "description": "A link to the ticket (http or https), or empty"})
class TicketField(serializers.URLField):
    pass


@extend_schema_field({"type": "string", "description": "A link to the ticket, or empty"})
class TicketReadField(serializers.CharField):
    pass


class ApprovalSerializer(serializers.ModelSerializer):
    reviewer = serializers.StringRelatedField()

    class Meta:
        model = ExceptionApproval
        fields = ["reviewer", "comment", "created"]
        read_only_fields = fields


class ExceptionSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.StringRelatedField()
    decided_by = serializers.StringRelatedField(allow_null=True, help_text="Empty until a reviewer decides")
    ticket = TicketReadField(read_only=True)
    approvals = ApprovalSerializer(many=True, read_only=True)

    class Meta:
        model = PolicyException
        fields = ["id", "scope", "team", "recipe", "digest", "target_kind", "target", "reason", "justification", "ticket",
                  "end_when_fixed", "expires_at", "status", "requested_by", "requested_at", "decided_by", "decided_at",
                  "decision_comment", "approvals_required", "approvals", "reminded_14d_at", "reminded_3d_at"]
        read_only_fields = fields


class ExceptionRequestSerializer(serializers.Serializer):
    build = serializers.IntegerField(required=False, help_text="The build whose recipe/team/digest scopes it")
    scope = serializers.ChoiceField(PolicyException.Scope.choices)
    target_kind = serializers.ChoiceField(PolicyException.Target.choices)
    target = serializers.CharField(max_length=200)
    reason = serializers.ChoiceField(PolicyException.Reason.choices)
    # Untrimmed here: the service counts the characters left after trimming and says so in its own words.
    justification = serializers.CharField(min_length=MIN_JUSTIFICATION, trim_whitespace=False,
                                          help_text="What, why and the compensating controls")
    expires_at = serializers.DateTimeField(help_text="In the future, and within the days the target's severity allows")
    ticket = TicketField(required=False, allow_blank=True, max_length=200)
    end_when_fixed = serializers.BooleanField(default=True)


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(required=False, help_text="Approve only: shorten the expiry")


def _django_errors(error: DjangoValidationError):
    raise ValidationError(getattr(error, "message_dict", {"detail": error.messages}))


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("status", str, enum=list(PolicyException.Status.values), description="Only exceptions in this state"),
    OpenApiParameter("team", str, description="Only this team's exceptions (by slug; not the global ones). A team "
                                              "you may not see is ignored: every exception you may see is listed."),
]))
class ExceptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ExceptionSerializer

    def get_queryset(self):
        queryset = (exceptions_visible_to(self.request.user).select_related("team", "requested_by", "decided_by")
                    .prefetch_related("approvals__reviewer"))
        if self.action == "list":  # the team filter narrows the list; one exception is found by its id alone
            team, _ = team_scope(visible_teams(self.request.user), self.request.query_params.get("team"))
            queryset = exceptions_of_team(queryset, team)
        wanted = self.request.query_params.get("status")
        if wanted and wanted not in PolicyException.Status.values:  # documented as a list of states: held to it
            raise ValidationError({"status": f"One of {', '.join(PolicyException.Status.values)}."})
        return queryset.filter(status=wanted) if wanted else queryset

    @extend_schema(request=ExceptionRequestSerializer, responses={201: ExceptionSerializer})
    def create(self, request):
        data = ExceptionRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        build = None
        if values.pop("build", None):
            build = Build.objects.filter(pk=data.validated_data["build"], team__in=visible_teams(request.user)).first()
            if build is None:
                raise ValidationError({"build": "No such build among your teams' builds."})
        try:
            exception = exception_request(user=request.user, team=build.team if build else None,
                                          recipe=build.recipe if build else None, digest=build.digest if build else "",
                                          **values)
        except DjangoValidationError as error:
            _django_errors(error)
        return Response(ExceptionSerializer(exception).data, status=status.HTTP_201_CREATED)

    def _decision(self, request, pk, act):
        exception = self.get_object()
        exception_reviewer_required(request.user)  # 403 (DRF turns Django's PermissionDenied into it) before the body
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            exception = act(exception, data.validated_data)
        except DecisionConflict as conflict:
            current = self.get_queryset().get(pk=exception.pk)
            return Response({"detail": str(conflict), "current": ExceptionSerializer(current).data}, status=status.HTTP_409_CONFLICT)
        except DjangoValidationError as error:
            _django_errors(error)
        return Response(ExceptionSerializer(exception).data)

    @extend_schema(request=DecisionSerializer, responses={200: ExceptionSerializer, 409: dict},
                   description="Approve. An exception that may waive a Critical finding needs two approvals from two "
                               "different reviewers: the first leaves it `awaiting_second` (not applied); a second "
                               "approval by the same reviewer answers 409.")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decision(request, pk, lambda e, d: exception_decide(
            user=request.user, exception=e, approve=True, comment=d["comment"], expires_at=d.get("expires_at")))

    @extend_schema(request=DecisionSerializer, responses={200: ExceptionSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def deny(self, request, pk=None):
        return self._decision(request, pk, lambda e, d: exception_decide(
            user=request.user, exception=e, approve=False, comment=d["comment"]))

    @extend_schema(request=DecisionSerializer, responses={200: ExceptionSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return self._decision(request, pk, lambda e, d: exception_revoke(user=request.user, exception=e, comment=d["comment"]))
