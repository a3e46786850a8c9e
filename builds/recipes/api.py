"""Recipes in the REST API: create (composed recipes; own Dockerfiles: builds/dockerfile/api.py), runtime
settings, build, with the same permission checks as the pages (portal.rbac)."""
from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from builds.errors import CompositionError
from builds.models import Recipe
from builds.recipes.notices import composition_warnings
from builds.recipes.serializers import (
    BuildInputSerializer,
    PreviewInputSerializer,
    PreviewSerializer,
    RecipeComposedSerializer,
    RecipeInputSerializer,
    RecipeSerializer,
    RecipeUploadSerializer,
    RuntimeInputSerializer,
    VisibilityInputSerializer,
)
from builds.recipes.services import recipe_preview, recipe_runtime_set, recipe_save, recipe_visibility_set
from builds.serializers import RequestedBuildSerializer
from builds.services import build_request
from builds.team_scripts.api import RecipeScriptActions
from catalog.selectors import catalog_components, known_bases
from portal.rbac import require_team_member, teams_of, visible_teams


def _raise_composition(error: CompositionError):
    raise ValidationError({"detail": str(error), "errors": error.errors})


def member_team_or_403(user, slug: str):
    """The team `slug` names, if the user is one of its members; 403 otherwise (recipes are
    written by their team's members only, whatever else the user may see)."""
    team = next((t for t in teams_of(user) if t.slug == slug), None)
    if team is None:
        raise ApiPermissionDenied("You are not a member of that team.")
    return team


def _base_and_choices(given: dict):
    """The base and the (version, values) choices a recipe body names, or a 400 saying which is
    unknown. Deprecated and retired ones are found too: composing says whether they may be used."""
    base = known_bases().filter(slug=given["base"]).first()
    if base is None:
        raise ValidationError({"base": "Not an approved base image."})
    components = {c.slug: c for c in catalog_components()}
    choices = []
    for item in given.get("components", []):
        component = components.get(item["component"])
        if component is None or not component.published_versions:
            raise ValidationError({"components": f"Unknown component {item['component']}."})
        versions = {v.version: v for v in component.known_versions}
        version = versions.get(item.get("version")) if item.get("version") else component.published_versions[0]
        if version is None:
            raise ValidationError({"components": f"{item['component']} has no version {item['version']}."})
        choices.append((version, item.get("values", {})))
    return base, choices


class RecipeViewSet(RecipeScriptActions, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    viewsets.GenericViewSet):
    """Composed recipes of the teams you may see; members of the owning team write them."""

    serializer_class = RecipeSerializer
    # JSON, or multipart when an artifact comes along (create only); a form-encoded body could carry neither.
    parser_classes = [JSONParser, MultiPartParser]

    def get_queryset(self):
        return Recipe.objects.filter(team__in=visible_teams(self.request.user)).select_related("team", "base")

    @extend_schema(request={"application/json": RecipeInputSerializer, "multipart/form-data": RecipeUploadSerializer},
                   responses={201: RecipeComposedSerializer})
    def create(self, request):
        """Compose and save a recipe; `warnings` names a deprecated base or version it uses (it
        builds until retired: each warning says what replaces it and from when)."""
        upload = request.content_type.startswith("multipart/")  # only a multipart body carries the artifact
        data = (RecipeUploadSerializer if upload else RecipeInputSerializer)(data=request.data)
        data.is_valid(raise_exception=True)
        team = member_team_or_403(request.user, data.validated_data["team"])
        base, choices = _base_and_choices(data.validated_data)
        try:
            recipe = recipe_save(user=request.user, team=team, name=data.validated_data["name"], base=base,
                                 choices=choices, artifact=data.validated_data.get("artifact"),
                                 runtime={"privileged": data.validated_data["privileged"],
                                          "cap_add": data.validated_data["cap_add"]})
        except CompositionError as error:
            _raise_composition(error)
        recipe.warnings = composition_warnings(base=base, versions=[version for version, _ in choices])
        return Response(RecipeComposedSerializer(recipe).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PreviewInputSerializer, responses={
        200: OpenApiResponse(PreviewSerializer, description="The Dockerfile the choices compose, as the builder page "
                                                            "previews it; nothing is saved"),
        400: OpenApiResponse(description="What does not compose: `errors` names each field (as creating the recipe would)")})
    @action(detail=False, methods=["post"], parser_classes=[JSONParser])
    def preview(self, request):
        """Compose a base and components without saving a recipe: the Dockerfile, the order the
        components go in, and the warnings (deprecated base or versions) a recipe of them would get."""
        data = PreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        base, choices = _base_and_choices(data.validated_data)
        try:
            composition = recipe_preview(base=base, choices=choices)
        except CompositionError as error:
            _raise_composition(error)
        return Response(PreviewSerializer({
            "dockerfile": composition.dockerfile, "order": composition.order,
            "warnings": composition_warnings(base=base, versions=[version for version, _ in choices])}).data)

    @extend_schema(request=RuntimeInputSerializer, responses={200: RecipeSerializer, 400: dict})
    @action(detail=True, methods=["put"], parser_classes=[JSONParser])
    def runtime(self, request, pk=None):
        """Set how the recipe's image is meant to run (privileged, extra capabilities)."""
        recipe = self.recipe_to_change()
        given = RuntimeInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            recipe = recipe_runtime_set(user=request.user, recipe=recipe, runtime=dict(given.validated_data))
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        except CompositionError as error:
            _raise_composition(error)
        return Response(RecipeSerializer(recipe).data)

    @extend_schema(request=VisibilityInputSerializer, responses={200: RecipeSerializer, 400: dict, 403: dict})
    @action(detail=True, methods=["put"], parser_classes=[JSONParser])
    def visibility(self, request, pk=None):
        """Let other teams (their members and robots) pull this recipe's published images, or stop."""
        recipe = self.get_object()
        try:
            require_team_member(request.user, recipe.team)  # who may decide, before what they sent
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        given = VisibilityInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        recipe = recipe_visibility_set(user=request.user, recipe=recipe, visible=given.validated_data["visible"])
        return Response(RecipeSerializer(recipe).data)

    @extend_schema(request=BuildInputSerializer, responses={
        201: OpenApiResponse(RequestedBuildSerializer, description="Queued. `expected_failures` lists what the policy is "
                                                                   "known to block before the build (the build is made "
                                                                   "anyway; the pages ask for a confirmation first)"),
        200: OpenApiResponse(RequestedBuildSerializer, description="Nothing changed: the recipe's published build of the identical "
                                                                   "composition, whose passing verdict is current, answers it; "
                                                                   "no build was queued (no_cache builds anew)")})
    @action(detail=True, methods=["post"], parser_classes=[JSONParser])
    def build(self, request, pk=None):
        recipe = self.recipe_to_change()
        options = BuildInputSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        try:
            build = build_request(user=request.user, recipe=recipe, no_cache=options.validated_data["no_cache"],
                                  report_expected=True)
        except PermissionDenied as error:
            raise ApiPermissionDenied(str(error))
        except CompositionError as error:
            _raise_composition(error)
        if getattr(build, "answered_by_existing", False):  # nothing new: the build that already answers it
            return Response(RequestedBuildSerializer(build).data, status=status.HTTP_200_OK)
        return Response(RequestedBuildSerializer(build).data, status=status.HTTP_201_CREATED)
