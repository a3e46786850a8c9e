"""API shapes. Serializers only translate; the services validate and write."""
from rest_framework import serializers

from builds.models import Build, Recipe
from catalog.models import BaseImage, Component, ComponentVersion


class BaseImageSerializer(serializers.ModelSerializer):
    class Meta:
        model = BaseImage
        fields = ["slug", "name", "repository", "tag", "digest", "os_family", "os_release", "approved", "lifecycle", "description"]


class ComponentVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ComponentVersion
        fields = ["version", "fragment", "final_fragment", "parameters", "requires", "conflicts", "os_families", "lifecycle"]


class ComponentSerializer(serializers.ModelSerializer):
    versions = ComponentVersionSerializer(many=True, read_only=True)

    class Meta:
        model = Component
        fields = ["slug", "name", "kind", "description", "versions"]


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


class RuntimeInputSerializer(serializers.Serializer):
    privileged = serializers.BooleanField(help_text="Run the container in privileged mode")
    cap_add = serializers.ListField(child=serializers.CharField(max_length=40), max_length=64,
                                    help_text="Linux capabilities to add, e.g. NET_BIND_SERVICE")


class BuildInputSerializer(serializers.Serializer):
    no_cache = serializers.BooleanField(default=False, help_text="Rebuild every step instead of reusing cached layers")


class RecipeSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    base = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    build_base = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    components = serializers.SerializerMethodField()

    class Meta:
        model = Recipe
        fields = ["id", "team", "name", "kind", "base", "components", "artifact_name", "artifact_sha256", "privileged",
                  "cap_add", "created", "updated", "build_command", "build_output", "build_base", "shared_build_script",
                  "shared_image_script"]

    def get_components(self, recipe) -> list[dict]:
        return [
            {"component": c.version.component.slug, "version": c.version.version, "values": c.values}
            for c in recipe.choices.select_related("version__component")
        ]


class BuildSerializer(serializers.ModelSerializer):
    recipe = serializers.PrimaryKeyRelatedField(read_only=True)
    verdict = serializers.SerializerMethodField()

    class Meta:
        model = Build
        fields = [
            "id", "recipe", "status", "current_step", "steps", "dockerfile", "composition_sha256", "no_cache", "reused_from", "digest",
            "quarantine_repository", "quarantine_tag", "published_reference", "published_at", "error_code",
            "error_message", "failed_step", "cancel_requested", "attempts", "log_lines", "created", "started", "finished", "verdict",
            "build_stage",
        ]

    def get_verdict(self, build) -> dict | None:
        verdict = build.verdicts.order_by("-created").first()
        if verdict is None:
            return None
        return {"passed": verdict.passed, "results": verdict.results, "policy_version": verdict.policy_version,
                "ruleset_version": verdict.ruleset_version, "ruleset": verdict.ruleset,
                "database_version": verdict.database_version, "created": verdict.created}
