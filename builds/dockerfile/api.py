"""REST API for Dockerfile recipes: check, create, update (the same services and checks as the pages).
Builds go through /api/recipes/{id}/build/ like any recipe."""
from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from builds.dockerfile.serializers import (
    DockerfileCheckResultSerializer,
    DockerfileCheckSerializer,
    DockerfileRecipeInputSerializer,
    DockerfileRecipeSerializer,
    DockerfileRecipeUploadSerializer,
    DockerfileUpdateSerializer,
    DockerfileUploadSerializer,
)
from builds.dockerfile.services import DockerfileError, dockerfile_check, recipe_save_dockerfile
from builds.errors import CompositionError
from builds.models import Recipe
from builds.recipes.api import member_team_or_403
from portal.rbac import require_team_member, visible_teams


class Refused(Exception):
    """Carries a 400 answer whose `lines` keep their integer line numbers (DRF's ValidationError
    would turn every value into a string)."""

    def __init__(self, error: CompositionError):
        body = {"detail": str(error), "errors": error.errors}
        if isinstance(error, DockerfileError):
            body["lines"] = error.lines
        self.response = Response(body, status=status.HTTP_400_BAD_REQUEST)


def _refused(error: CompositionError):
    raise Refused(error)


def _multipart(request) -> bool:
    """A multipart body may carry the context archive; a JSON body cannot (each has its serializer)."""
    return request.content_type.startswith("multipart/")


class DockerfileRecipeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DockerfileRecipeSerializer
    queryset = Recipe.objects.none()  # for the schema only: get_queryset is what serves requests
    # JSON, or multipart when a context archive comes along (a form-encoded body could carry neither).
    parser_classes = [JSONParser, MultiPartParser]

    def handle_exception(self, exc):
        if isinstance(exc, Refused):
            return exc.response
        return super().handle_exception(exc)

    def get_queryset(self):
        return Recipe.objects.filter(kind=Recipe.Kind.DOCKERFILE, team__in=visible_teams(self.request.user)).select_related("team", "base")

    @extend_schema(request=DockerfileCheckSerializer, responses={200: DockerfileCheckResultSerializer})
    @action(detail=False, methods=["post"], parser_classes=[JSONParser])
    def check(self, request):
        """Resolve a Dockerfile against the catalog without saving: the pinned result, or 400 with `lines`."""
        data = DockerfileCheckSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            resolved = dockerfile_check(dockerfile=data.validated_data["dockerfile"], build_args=data.validated_data["build_args"])
        except CompositionError as error:
            _refused(error)
        return Response(DockerfileCheckResultSerializer(resolved).data)

    @extend_schema(request={"application/json": DockerfileRecipeInputSerializer,
                            "multipart/form-data": DockerfileRecipeUploadSerializer},
                   responses={201: DockerfileRecipeSerializer})
    def create(self, request):
        data = (DockerfileRecipeUploadSerializer if _multipart(request) else DockerfileRecipeInputSerializer)(data=request.data)
        data.is_valid(raise_exception=True)
        team = member_team_or_403(request.user, data.validated_data["team"])
        recipe = self._save(request, data.validated_data, team=team, name=data.validated_data["name"])
        return Response(DockerfileRecipeSerializer(recipe).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"application/json": DockerfileUpdateSerializer, "multipart/form-data": DockerfileUploadSerializer},
                   responses={200: DockerfileRecipeSerializer})
    def update(self, request, pk=None):
        recipe = self.get_object()
        require_team_member(request.user, recipe.team)  # 403 to a reader (DRF turns Django's PermissionDenied into it) before the body
        data = (DockerfileUploadSerializer if _multipart(request) else DockerfileUpdateSerializer)(data=request.data)
        data.is_valid(raise_exception=True)
        recipe = self._save(request, data.validated_data, team=recipe.team, name=recipe.name, recipe=recipe)
        return Response(DockerfileRecipeSerializer(recipe).data)

    def _save(self, request, values, **target):
        try:
            return recipe_save_dockerfile(user=request.user, dockerfile=values["dockerfile"], build_args=values["build_args"],
                                          context=values.get("context"), **target)
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        except CompositionError as error:
            _refused(error)
