"""Which recipes use a base image or a component (the curation pages' "used by")."""
from django.db.models import Q

from builds.models import Recipe
from catalog.models import BaseImage, Component


def recipes_using_base(base: BaseImage):
    """Recipes starting FROM it, and those using it only for their build stage (its compilers build
    their package: a new digest changes what they ship too)."""
    return Recipe.objects.filter(Q(base=base) | Q(build_base=base)).select_related("team").distinct()


def recipes_using_component(component: Component):
    return Recipe.objects.filter(choices__version__component=component).select_related("team").distinct()
