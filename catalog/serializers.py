"""API shapes of the catalog (base images, components, versions). Serializers only translate."""
from rest_framework import serializers

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
