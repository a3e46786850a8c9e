"""Reads of the catalog: what a team may pick today."""
from django.db.models import Prefetch

from catalog.models import BaseImage, Component, ComponentVersion, Lifecycle


def catalog_components():
    """Components with their published versions (what the builder offers; the first is the
    default), and the versions a form or API call may name (drafts are invisible to teams; a
    retired one is found so that composing it says it is retired), newest first."""
    published = ComponentVersion.objects.filter(lifecycle=Lifecycle.PUBLISHED).order_by("-created")
    known = ComponentVersion.objects.exclude(lifecycle=Lifecycle.DRAFT).order_by("-created")
    return Component.objects.prefetch_related(Prefetch("versions", queryset=published, to_attr="published_versions"),
                                              Prefetch("versions", queryset=known, to_attr="known_versions"))


def selectable_bases():
    """The bases the builder offers: approved, pinned and published."""
    return BaseImage.objects.filter(approved=True, lifecycle=Lifecycle.PUBLISHED).exclude(digest="")


def known_bases():
    """The bases a form or API call may name: the offered ones, a deprecated one (it still builds),
    and a retired one, so that composing it says it is retired. Drafts are invisible to teams."""
    known = BaseImage.objects.filter(approved=True).exclude(digest="").exclude(lifecycle=Lifecycle.DRAFT)
    return known.select_related("replacement")
