"""REST API for the same flow as the pages, with the same permission checks (portal.rbac)."""
from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from builds.builder import catalog_components, selectable_bases
from builds.compose import CompositionError
from builds.models import Build, BuildLogChunk, Recipe
from builds.serializers import (
    BaseImageSerializer, BuildInputSerializer, BuildSerializer, ComponentSerializer, RecipeInputSerializer, RecipeSerializer,
    RuntimeInputSerializer,
)
from builds.services import build_cancel, build_request, recipe_runtime_set, recipe_save
from builds.team_script_api import RecipeScriptActions
from catalog.models import BaseImage, Component
from compliance.gate import GateClosed, image_publish
from portal.rbac import teams_of, visible_teams
from portal.registry import RegistryError


def _raise_composition(error: CompositionError):
    raise ValidationError({"detail": str(error), "errors": error.errors})


def member_team_or_403(user, slug: str):
    """The team `slug` names, if the user is one of its members; 403 otherwise (recipes are
    written by their team's members only, whatever else the user may see)."""
    team = next((t for t in teams_of(user) if t.slug == slug), None)
    if team is None:
        raise ApiPermissionDenied("You are not a member of that team.")
    return team


class BaseImageViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BaseImageSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return BaseImage.objects.all()


class ComponentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ComponentSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return Component.objects.prefetch_related("versions")


class RecipeViewSet(RecipeScriptActions, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    viewsets.GenericViewSet):
    serializer_class = RecipeSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        return Recipe.objects.filter(team__in=visible_teams(self.request.user)).select_related("team", "base")

    @extend_schema(request=RecipeInputSerializer, responses={201: RecipeSerializer})
    def create(self, request):
        data = RecipeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = member_team_or_403(request.user, data.validated_data["team"])
        base = selectable_bases().filter(slug=data.validated_data["base"]).first()
        if base is None:
            raise ValidationError({"base": "Not an approved base image."})
        components = {c.slug: c for c in catalog_components()}
        choices = []
        for item in data.validated_data.get("components", []):
            component = components.get(item["component"])
            if component is None or not component.published_versions:
                raise ValidationError({"components": f"Unknown component {item['component']}."})
            versions = {v.version: v for v in component.published_versions}
            version = versions.get(item.get("version")) if item.get("version") else component.published_versions[0]
            if version is None:
                raise ValidationError({"components": f"{item['component']} has no version {item['version']}."})
            choices.append((version, item.get("values", {})))
        try:
            recipe = recipe_save(user=request.user, team=team, name=data.validated_data["name"], base=base,
                                 choices=choices, artifact=request.FILES.get("artifact"),
                                 runtime={"privileged": data.validated_data["privileged"],
                                          "cap_add": data.validated_data["cap_add"]})
        except CompositionError as error:
            _raise_composition(error)
        return Response(RecipeSerializer(recipe).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RuntimeInputSerializer, responses={200: RecipeSerializer, 400: dict})
    @action(detail=True, methods=["put"])
    def runtime(self, request, pk=None):
        """Set how the recipe's image is meant to run (privileged, extra capabilities)."""
        recipe = self.get_object()
        given = RuntimeInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            recipe = recipe_runtime_set(user=request.user, recipe=recipe, runtime=dict(given.validated_data))
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        except CompositionError as error:
            _raise_composition(error)
        return Response(RecipeSerializer(recipe).data)

    @extend_schema(request=BuildInputSerializer, responses={201: BuildSerializer})
    @action(detail=True, methods=["post"])
    def build(self, request, pk=None):
        recipe = self.get_object()
        options = BuildInputSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        try:
            build = build_request(user=request.user, recipe=recipe, no_cache=options.validated_data["no_cache"])
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        except CompositionError as error:
            _raise_composition(error)
        return Response(BuildSerializer(build).data, status=status.HTTP_201_CREATED)


class BuildViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BuildSerializer

    def get_queryset(self):
        return Build.objects.filter(team__in=visible_teams(self.request.user)).prefetch_related("verdicts")

    @extend_schema(parameters=[OpenApiParameter("after", int, description="Return chunks after this sequence number")],
                   responses={200: dict})
    @action(detail=True, methods=["get"])
    def log(self, request, pk=None):
        build = self.get_object()
        try:
            after = int(request.query_params.get("after", -1))
        except ValueError:
            raise ValidationError({"after": "must be an integer"})
        chunks = BuildLogChunk.objects.filter(build=build, seq__gt=after).order_by("seq")[:500]
        return Response({
            "status": build.status,
            "chunks": [{"seq": c.seq, "first_line": c.first_line, "step": c.step, "text": c.text} for c in chunks],
        })

    @extend_schema(responses={(200, "application/vnd.cyclonedx+json"): dict})
    @action(detail=True, methods=["get"])
    def sbom(self, request, pk=None):
        """The image's SBOM as CycloneDX JSON."""
        from compliance.views import image_sbom

        self.get_object()  # the same visibility check as every other action
        return image_sbom(request._request, pk)

    @extend_schema(request=None, responses={200: BuildSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued build at once, or stop a running one within seconds."""
        build = build_cancel(user=request.user, build=self.get_object())
        return Response(BuildSerializer(build).data)

    @extend_schema(request=None, responses={200: BuildSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        build = self.get_object()
        if build.team not in teams_of(request.user):
            raise ApiPermissionDenied("Only members of the owning team may publish this image.")
        try:
            image_publish(build=build, actor=request.user)
        except GateClosed as closed:
            return Response({"detail": str(closed)}, status=status.HTTP_409_CONFLICT)
        except RegistryError as error:
            return Response({"detail": f"Not published: the registry answered {error}. Nothing was changed; retry."},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "30"})
        build.refresh_from_db()
        return Response(BuildSerializer(build).data)
