"""Which recipes use a base image or a component (the curation pages' "used by")."""
from builds.models import Recipe
from catalog.models import BaseImage, Component


def recipes_using_base(base: BaseImage):
    return Recipe.objects.filter(base=base).select_related("team")


def recipes_using_component(component: Component):
    return Recipe.objects.filter(choices__version__component=component).select_related("team").distinct()
