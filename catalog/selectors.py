"""Reads of the catalog: what a team may pick today."""
from django.db.models import Prefetch

from catalog.models import BaseImage, Component, ComponentVersion, Lifecycle


def catalog_components():
    """Published components with their published versions, newest first (one query each)."""
    published = ComponentVersion.objects.filter(lifecycle=Lifecycle.PUBLISHED).order_by("-created")
    return Component.objects.prefetch_related(Prefetch("versions", queryset=published, to_attr="published_versions"))


def selectable_bases():
    return BaseImage.objects.filter(approved=True, lifecycle=Lifecycle.PUBLISHED).exclude(digest="")
