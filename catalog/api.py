"""The catalog in the REST API, read-only: base images and components with their versions."""
from rest_framework import viewsets

from catalog.models import BaseImage, Component
from catalog.serializers import BaseImageSerializer, ComponentSerializer


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
