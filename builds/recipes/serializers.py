"""API shapes of recipes. Serializers only translate; the services validate and write."""
import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from builds.models import Recipe


class ChoiceInputSerializer(serializers.Serializer):
    component = serializers.SlugField()
    version = serializers.CharField(required=False, help_text="Defaults to the latest published version")
    values = serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False)


class RecipeInputSerializer(serializers.Serializer):
    team = serializers.SlugField()
    name = serializers.CharField(max_length=60)
    base = serializers.SlugField()
    components = ChoiceInputSerializer(many=True, required=False)
    privileged = serializers.BooleanField(default=False, help_text="Run the container in privileged mode")
    cap_add = serializers.ListField(child=serializers.CharField(max_length=40), default=list, max_length=64,
                                    help_text="Linux capabilities to add, e.g. NET_BIND_SERVICE")


@extend_schema_field(ChoiceInputSerializer(many=True))
class ChoicesTextField(serializers.Field):
    """`components` in a multipart body: a form part holds text, so the list comes as its JSON
    (the part's content type application/json, as OpenAPI spells an array of objects there)."""

    def to_internal_value(self, data):
        try:
            value = json.loads(data) if isinstance(data, str) else data
        except ValueError:
            raise serializers.ValidationError('Give the components as a JSON list, e.g. [{"component": "wget"}].')
        choices = ChoiceInputSerializer(data=value, many=True)
        choices.is_valid(raise_exception=True)
        return choices.validated_data


class PreviewInputSerializer(serializers.Serializer):
    base = serializers.SlugField()
    components = ChoiceInputSerializer(many=True, required=False)


class RecipeUploadSerializer(RecipeInputSerializer):
    """A multipart body: the recipe with its build artifact."""

    components = ChoicesTextField(required=False)
    artifact = serializers.FileField(required=False, help_text="The build artifact the recipe's image carries")


class RuntimeInputSerializer(serializers.Serializer):
    privileged = serializers.BooleanField(help_text="Run the container in privileged mode")
    cap_add = serializers.ListField(child=serializers.CharField(max_length=40), max_length=64,
                                    help_text="Linux capabilities to add, e.g. NET_BIND_SERVICE")


class VisibilityInputSerializer(serializers.Serializer):
    visible = serializers.BooleanField(help_text="Other teams' members and robots may pull the published images")


class BuildInputSerializer(serializers.Serializer):
    no_cache = serializers.BooleanField(default=False, help_text="Rebuild every step instead of reusing cached layers")


class RecipeSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    base = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    build_base = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    components = serializers.SerializerMethodField()

    class Meta:
        model = Recipe
        fields = ["id", "team", "name", "kind", "base", "components", "artifact_name", "artifact_sha256", "visible_to_other_teams",
                  "unbuildable_reason", "privileged",
                  "cap_add", "created", "updated", "build_command", "build_output", "build_base", "shared_build_script",
                  "shared_image_script"]

    def get_components(self, recipe) -> list[dict]:
        return [
            {"component": c.version.component.slug, "version": c.version.version, "values": c.values}
            for c in recipe.choices.select_related("version__component")
        ]


class LifecycleWarningSerializer(serializers.Serializer):
    """A deprecated base or component version the recipe uses (builds.recipes.notices)."""

    about = serializers.ChoiceField(["base", "build_base", "component"])
    slug = serializers.CharField(help_text="The base's or the component's slug")
    version = serializers.CharField(help_text="The component's version; empty for a base")
    lifecycle = serializers.CharField(source="kind", help_text="deprecated: it still builds until it is retired")
    replacement = serializers.CharField(source="replacement_slug", help_text="What to move to; empty when none was named")
    sunset_date = serializers.DateField(allow_null=True, help_text="After this day it may be retired")
    message = serializers.CharField()


class RecipeComposedSerializer(RecipeSerializer):
    """A recipe as saved, with the warnings its composition gave."""

    warnings = LifecycleWarningSerializer(many=True, read_only=True, help_text="Deprecated base or versions it uses")

    class Meta(RecipeSerializer.Meta):
        fields = RecipeSerializer.Meta.fields + ["warnings"]


class PreviewSerializer(serializers.Serializer):
    """What a base and components compose (builds.recipes.services.recipe_preview)."""

    dockerfile = serializers.CharField(help_text="The Dockerfile a recipe of these choices builds")
    order = serializers.ListField(child=serializers.CharField(), help_text="The components' slugs, in the order they go in")
    warnings = LifecycleWarningSerializer(many=True, help_text="Deprecated base or versions it uses")
