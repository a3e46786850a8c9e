"""API shapes of shared team scripts and of a recipe's build settings. They only translate."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from builds.models import Recipe, TeamScript, TeamScriptVersion


class TeamScriptVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.StringRelatedField(allow_null=True, help_text="Empty when that user was deleted")

    class Meta:
        model = TeamScriptVersion
        fields = ["number", "text", "sha256", "findings", "note", "created_by", "created"]


class TeamScriptSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.StringRelatedField(allow_null=True, help_text="Empty when that user was deleted")
    versions = TeamScriptVersionSerializer(many=True, read_only=True)
    used_by = serializers.SerializerMethodField()

    class Meta:
        model = TeamScript
        fields = ["id", "team", "name", "kind", "created_by", "created", "versions", "used_by"]

    def get_used_by(self, script) -> list[int]:
        return sorted({r.pk for r in script.build_recipes.all()} | {r.pk for r in script.image_recipes.all()})


class TeamScriptInputSerializer(serializers.Serializer):
    team = serializers.SlugField()
    name = serializers.CharField(max_length=60)
    kind = serializers.ChoiceField(choices=TeamScript.Kind.choices)
    text = serializers.CharField(trim_whitespace=False, max_length=64 * 1024)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class PromoteInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TeamScript.Kind.choices)
    name = serializers.CharField(max_length=60, help_text="Name of the shared script; an existing one gets a new version")


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}], "nullable": True})
class BuildCommandField(serializers.JSONField):
    """Text (run by `sh -c`) or a list of words (run as it is); the service checks it."""


class BuildSettingsSerializer(serializers.Serializer):
    build_command = BuildCommandField(required=False, allow_null=True, default=None,
                                      help_text='Text run by `sh -c`, or a list of words, e.g. ["mvn", "-q", "package"]')
    build_output = serializers.CharField(required=False, allow_blank=True, default="",
                                         help_text="Path of the build output inside the project; empty: the whole project")
    build_base = serializers.SlugField(required=False, allow_blank=True, allow_null=True, default=None,
                                       help_text="Slug of an approved build base; empty: the recipe's base")
    shared_build_script = serializers.IntegerField(required=False, allow_null=True, default=None)
    shared_image_script = serializers.IntegerField(required=False, allow_null=True, default=None)


class RecipeBuildSettingsSerializer(serializers.ModelSerializer):
    build_base = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Recipe
        fields = ["id", "build_command", "build_output", "build_base", "shared_build_script", "shared_image_script"]
