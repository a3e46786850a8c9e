"""API shapes of Dockerfile recipes. Serializers only translate."""
import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from builds.recipes.serializers import RecipeSerializer


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class BuildArgsField(serializers.JSONField):
    """An object of strings; in a multipart request it arrives as JSON text (the part's content
    type application/json, as OpenAPI spells an object in a multipart body)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if isinstance(value, str):

            try:
                value = json.loads(value or "{}")
            except ValueError:
                raise serializers.ValidationError("Give the build arguments as a JSON object of strings.")
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise serializers.ValidationError("Give the build arguments as a JSON object of strings.")
        return value


class DockerfileCheckSerializer(serializers.Serializer):
    """A JSON body: the Dockerfile and its build arguments."""

    dockerfile = serializers.CharField(trim_whitespace=False, help_text="The Dockerfile as written")
    build_args = BuildArgsField(required=False, default=dict, help_text='e.g. {"TAG": "1.35"}')


class DockerfileUpdateSerializer(DockerfileCheckSerializer):
    """A JSON body (no context archive: send that as multipart, DockerfileUploadSerializer)."""


class DockerfileUploadSerializer(DockerfileCheckSerializer):
    """A multipart body: the same fields, and the build context as a file."""

    context = serializers.FileField(required=False, help_text="Build context: tar.gz, tar or zip")


class DockerfileRecipeInputSerializer(DockerfileUpdateSerializer):
    team = serializers.SlugField()
    name = serializers.CharField(max_length=60)


class DockerfileRecipeUploadSerializer(DockerfileUploadSerializer):
    team = serializers.SlugField()
    name = serializers.CharField(max_length=60)


class DockerfileRecipeSerializer(RecipeSerializer):
    class Meta(RecipeSerializer.Meta):
        fields = RecipeSerializer.Meta.fields + ["dockerfile", "build_args", "context_name", "context_sha256"]


class StageSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.CharField()
    line = serializers.IntegerField()
    base_slug = serializers.CharField()
    source = serializers.CharField()


class DockerfileCheckResultSerializer(serializers.Serializer):
    dockerfile = serializers.CharField(help_text="As it will be built: every image pinned by digest")
    stages = StageSerializer(many=True)
    bases = serializers.ListField(child=serializers.CharField())
