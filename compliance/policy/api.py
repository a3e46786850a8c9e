"""Policy rules in the REST API. Everyone signed in reads the global rules and those of the
teams they may see; only platform admins write (the same check as the admin pages)."""
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from compliance.models import PolicyRule
from compliance.policy.ruleset import ruleset_for
from compliance.policy.services import PolicyRuleInvalid, policy_rule_delete, policy_rule_save, policy_rule_writer_required
from portal.api_schema import ErrorSerializer
from portal.models import Team
from portal.rbac import visible_teams


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ParamsField(serializers.JSONField):
    """A rule's parameters: an object whose keys depend on the kind (compliance/policy/params.py checks them)."""


class PolicyRuleSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), allow_null=True, required=False,
                                        help_text="Team slug; null for the global rule")
    # Declared, so DRF adds no uniqueness validator of its own: it would read the global-only
    # constraint as "kind is unique" and refuse every team override.
    kind = serializers.ChoiceField(PolicyRule.Kind.choices)
    params = ParamsField(required=False, help_text="Parameters of the kind (see GET /api/policy/rules/effective/)")

    class Meta:
        model = PolicyRule
        fields = ["id", "team", "kind", "enabled", "action", "params", "note", "updated"]
        read_only_fields = ["updated"]
        validators = []  # uniqueness is checked by the service, with a message that says what to do


class EffectiveRuleSerializer(serializers.Serializer):
    kind = serializers.CharField()
    title = serializers.CharField()
    action = serializers.CharField()
    params = ParamsField()
    source = serializers.CharField(help_text="default, global or team")
    error = serializers.CharField()


class EffectivePolicySerializer(serializers.Serializer):
    team = serializers.CharField(allow_null=True)
    version = serializers.CharField(help_text="sha256 of the enforced rules; verdicts record it")
    rules = EffectiveRuleSerializer(many=True)


class RuleWriters(BasePermission):
    """Writes are the service's platform admins: asked before the body is read, so anyone else
    learns "not yours to change" (403), never what is wrong with the body they sent (400)."""

    def has_permission(self, request, view):
        if request.method not in SAFE_METHODS:
            try:
                policy_rule_writer_required(request.user)
            except PermissionDenied as error:
                raise ApiPermissionDenied(str(error))
        return True


class PolicyRuleViewSet(viewsets.ModelViewSet):
    """/api/policy/rules/: the rule rows; /api/policy/rules/effective/?team=: what a team's images face."""

    serializer_class = PolicyRuleSerializer
    permission_classes = [IsAuthenticated, RuleWriters]

    def get_queryset(self):
        teams = visible_teams(self.request.user)
        return PolicyRule.objects.filter(Q(team__isnull=True) | Q(team__in=teams)).select_related("team")

    def _save(self, serializer, rule=None):
        try:
            return policy_rule_save(actor=self.request.user, rule=rule, **serializer.validated_data)
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        except PolicyRuleInvalid as error:
            raise ValidationError(error.errors)

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(self.get_serializer(self._save(serializer)).data, status=status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        rule = self.get_object()
        serializer = self.get_serializer(rule, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return Response(self.get_serializer(self._save(serializer, rule)).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    def destroy(self, request, pk=None):
        try:
            policy_rule_delete(actor=request.user, rule=self.get_object())
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[OpenApiParameter("team", str, description="Team slug; leave out for the global policy")],
                   responses={200: EffectivePolicySerializer, 404: ErrorSerializer})
    @action(detail=False, methods=["get"])
    def effective(self, request):
        """The rules enforced on a team's images: defaults, global rows, then the team's own rows."""
        slug = request.query_params.get("team") or ""
        team = None
        if slug:
            team = visible_teams(request.user).filter(slug=slug).first()
            if team is None:
                raise NotFound("No such team among the teams you may see.")
        ruleset = ruleset_for(team)
        rules = [{**r, "title": rule.title} for r, rule in zip(ruleset.snapshot(), ruleset.rules)]
        return Response({"team": slug or None, "version": ruleset.version, "rules": rules})
