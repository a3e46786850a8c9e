"""REST API for shared team scripts and a recipe's build settings, with the pages' permission checks:
team members write, the team and security reviewers read (portal.rbac)."""
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from builds.errors import CompositionError
from builds.models import TeamScript
from builds.team_scripts.build_settings import recipe_build_settings_save
from builds.team_scripts.serializers import (
    BuildSettingsSerializer,
    PromoteInputSerializer,
    RecipeBuildSettingsSerializer,
    TeamScriptInputSerializer,
    TeamScriptSerializer,
    TeamScriptVersionSerializer,
)
from builds.team_scripts.services import TeamScriptRefused, team_script_promote, team_script_save
from catalog.models import BaseImage
from portal.api_schema import ErrorSerializer
from portal.models import Team
from portal.rbac import require_team_member, visible_teams


def _refused(error: TeamScriptRefused):
    raise ValidationError({"detail": str(error), "errors": error.errors, "findings": error.findings})


class TeamScriptViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Shared `.paas` scripts. POST with an existing name adds a version (the same text adds nothing)."""

    serializer_class = TeamScriptSerializer

    def get_queryset(self):
        return (TeamScript.objects.filter(team__in=visible_teams(self.request.user)).select_related("team", "created_by")
                .prefetch_related("versions__created_by", "build_recipes", "image_recipes"))

    @extend_schema(request=TeamScriptInputSerializer, responses={201: TeamScriptVersionSerializer, 404: ErrorSerializer})
    def create(self, request):
        data = TeamScriptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = get_object_or_404(Team.objects.filter(pk__in=visible_teams(request.user)), slug=data.validated_data["team"])
        values = {k: data.validated_data[k] for k in ("name", "kind", "text", "note")}
        try:
            version = team_script_save(user=request.user, team=team, **values)
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        except TeamScriptRefused as error:
            _refused(error)
        return Response(TeamScriptVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class RecipeScriptActions:
    """A recipe's build settings and the promotion of its package scripts, as actions of the recipe
    viewset (/api/recipes/{id}/...), which supplies get_object() and its visibility filter."""

    def recipe_to_change(self):
        """The recipe, if the caller may change it: 404 when they may not see it, then 403 when they
        may only read it (a reviewer), before the body is read, so a refusal never reads as "fix
        your input" (the services check membership again)."""
        recipe = self.get_object()
        require_team_member(self.request.user, recipe.team)  # DRF answers Django's PermissionDenied with 403
        return recipe

    @extend_schema(request=BuildSettingsSerializer, responses={200: RecipeBuildSettingsSerializer})
    @action(detail=True, methods=["put"], url_path="build-settings", parser_classes=[JSONParser])
    def build_settings(self, request, pk=None):
        """Set the build command, build output, build-stage base and shared scripts of a recipe."""
        recipe = self.recipe_to_change()
        data = BuildSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        scripts = TeamScript.objects.filter(team=recipe.team)
        try:
            build_base = None
            if values["build_base"]:
                build_base = BaseImage.objects.filter(slug=values["build_base"]).first()
                if build_base is None:
                    raise CompositionError("Unknown base image.", {"build_base": "unknown"})
            recipe = recipe_build_settings_save(
                user=request.user, recipe=recipe, build_command=values["build_command"], build_output=values["build_output"],
                build_base=build_base,
                shared_build_script=_script(scripts, values["shared_build_script"], "shared_build_script"),
                shared_image_script=_script(scripts, values["shared_image_script"], "shared_image_script"))
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        except CompositionError as error:
            raise ValidationError({"detail": str(error), "errors": error.errors})
        return Response(RecipeBuildSettingsSerializer(recipe).data)

    @extend_schema(request=PromoteInputSerializer, responses={201: TeamScriptVersionSerializer})
    @action(detail=True, methods=["post"], url_path="promote-script", parser_classes=[JSONParser])
    def promote_script(self, request, pk=None):
        """Make the package's .paas script a shared team script; the recipe then uses the shared one."""
        recipe = self.recipe_to_change()
        data = PromoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = team_script_promote(user=request.user, recipe=recipe, **data.validated_data)
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        except TeamScriptRefused as error:
            _refused(error)
        return Response(TeamScriptVersionSerializer(version).data, status=status.HTTP_201_CREATED)


def _script(scripts, script_id, field):
    if script_id is None:
        return None
    script = scripts.filter(pk=script_id).first()
    if script is None:
        raise CompositionError("No such script in the recipe's team.", {field: "unknown"})
    return script
