"""The catalog in the REST API, read-only: base images and components with their versions."""
from django.db.models import Prefetch
from rest_framework import viewsets

from catalog.models import BaseImage, Component, ComponentVersion, Lifecycle
from catalog.serializers import BaseImageSerializer, ComponentSerializer
from portal.rbac import is_platform_admin


class BaseImageViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BaseImageSerializer
    lookup_field = "slug"

    def get_queryset(self):
        bases = BaseImage.objects.select_related("replacement")
        # As for component versions: teams see a base once it is published.
        return bases if is_platform_admin(self.request.user) else bases.exclude(lifecycle=Lifecycle.DRAFT)


class ComponentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ComponentSerializer
    lookup_field = "slug"

    def get_queryset(self):
        # Drafts are for platform admins only: teams see a version once it is published.
        versions = ComponentVersion.objects.select_related("replacement")
        if not is_platform_admin(self.request.user):
            versions = versions.exclude(lifecycle=Lifecycle.DRAFT)
        return Component.objects.prefetch_related(Prefetch("versions", queryset=versions))
