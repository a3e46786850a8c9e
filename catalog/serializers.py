"""API shapes of the catalog (base images, components, versions). Serializers only translate."""
from rest_framework import serializers

from catalog.models import BaseImage, Component, ComponentVersion


class BaseImageSerializer(serializers.ModelSerializer):
    replacement = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True,
                                               help_text="The base recipes should move to (deprecated bases)")

    class Meta:
        model = BaseImage
        fields = ["slug", "name", "repository", "tag", "digest", "os_family", "os_release", "approved", "lifecycle",
                  "replacement", "sunset_date", "description"]


class ComponentVersionSerializer(serializers.ModelSerializer):
    replacement = serializers.SlugRelatedField(slug_field="version", read_only=True, allow_null=True,
                                               help_text="The version recipes should move to (deprecated versions)")

    class Meta:
        model = ComponentVersion
        fields = ["id", "version", "fragment", "final_fragment", "parameters", "requires", "conflicts", "os_families", "lifecycle",
                  "replacement", "sunset_date"]


class ComponentSerializer(serializers.ModelSerializer):
    versions = ComponentVersionSerializer(many=True, read_only=True)

    class Meta:
        model = Component
        fields = ["slug", "name", "kind", "description", "versions"]
