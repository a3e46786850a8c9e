"""The home page, by role: members see their teams' images; security reviewers their queue
(pending exceptions, published images now blocked); platform admins the catalog and people with
their counts. A user in no team and with no global role is told whom to ask."""
from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, Q
from django.shortcuts import render
from django.views.decorators.http import require_GET

from builds.models import Build, Recipe
from builds.recipes.notices import version_notices
from catalog.models import BaseImage, Component, Lifecycle, ProposalState
from compliance.door import review_queue
from portal.models import Membership, Team
from portal.rbac import is_platform_admin, is_security_reviewer, teams_of


def platform_overview() -> dict:
    """Counts a platform admin starts from: the catalog's state and who uses the portal."""
    bases = BaseImage.objects.aggregate(
        usable=Count("pk", filter=Q(approved=True, lifecycle=Lifecycle.PUBLISHED)),
        deprecated=Count("pk", filter=Q(approved=True, lifecycle=Lifecycle.DEPRECATED)),
        proposed=Count("pk", filter=Q(proposal_state=ProposalState.PENDING)))
    teams = Team.objects.aggregate(total=Count("pk", distinct=True), ownerless=Count(
        "pk", distinct=True, filter=~Q(pk__in=Membership.objects.filter(role=Membership.Role.OWNER).values("team"))))
    return {"bases": bases, "components": Component.objects.count(), "teams": teams,
            "users": get_user_model().objects.filter(is_active=True).count()}


@require_GET
def home(request):
    user = request.user
    teams = teams_of(user)
    latest = Build.objects.order_by("-created").prefetch_related("verdicts")
    recipes = (
        Recipe.objects.filter(team__in=teams)
        .select_related("team", "base")
        .prefetch_related(Prefetch("builds", queryset=latest, to_attr="recent_builds"))
    )
    recipes = list(recipes)
    notices = version_notices(recipes)
    for recipe in recipes:
        recipe.version_notices = notices.get(recipe.pk, [])
    admin, reviewer = is_platform_admin(user), is_security_reviewer(user)
    return render(request, "portal/home.html", {
        "recipes": recipes, "teams": teams, "in_team": teams.exists(),
        "queue": review_queue(user) if reviewer else None,
        "overview": platform_overview() if admin else None,
    })
