"""Find a recipe or build the signed-in user may see, or answer 404.

Pages of several apps (builds, compliance) open builds by id; one lookup keeps what "may see"
means (the user's visible teams) and what a page needs loaded alongside in one place. Outsiders
get 404, not 403, so ids do not reveal which builds exist.
"""
from django.db.models import Max, QuerySet
from django.shortcuts import get_object_or_404

from builds.models import Build, Recipe
from portal.rbac import visible_teams


def visible_recipe_or_404(user, pk) -> Recipe:
    return get_object_or_404(Recipe.objects.select_related("team", "base"), pk=pk, team__in=visible_teams(user))


def visible_build_or_404(user, pk) -> Build:
    builds = Build.objects.select_related("recipe", "team", "requested_by", "recipe__base")
    return get_object_or_404(builds, pk=pk, team__in=visible_teams(user))


def latest_of_each_recipe(builds: QuerySet) -> QuerySet:
    """Of these builds, the latest (highest id) of each recipe, as a Build queryset: what the
    dashboards call an image's current build, and what re-evaluations after a change look at."""
    latest = builds.order_by().values("recipe").annotate(latest=Max("pk")).values("latest")
    return Build.objects.filter(pk__in=latest)
