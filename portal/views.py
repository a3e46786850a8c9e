from django.db.models import Prefetch
from django.shortcuts import render

from builds.models import Build, Recipe
from portal.rbac import teams_of


def home(request):
    """My images: the team's recipes with their latest build, and a prominent New image button."""
    latest = Build.objects.order_by("-created").prefetch_related("verdicts")
    recipes = (
        Recipe.objects.filter(team__in=teams_of(request.user))
        .select_related("team", "base")
        .prefetch_related(Prefetch("builds", queryset=latest, to_attr="recent_builds"))
    )
    return render(request, "portal/home.html", {"recipes": recipes, "teams": teams_of(request.user)})
