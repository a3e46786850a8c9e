"""Team pages: the teams list (and, for platform admins, a new team), one team's members, robots
and alert settings. Every change goes through portal.teams.services; a refusal re-renders the page
with the error summary and what was typed."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from portal.models import Membership
from portal.rbac import is_platform_admin, visible_teams
from portal.teams import selectors, services


def _errors(error: ValidationError) -> dict:
    return error.message_dict if hasattr(error, "error_dict") else {"form": error.messages}


@require_http_methods(["GET", "POST"])
def team_list(request):
    errors, values, status = {}, {}, 200
    if request.method == "POST":
        values = {key: request.POST.get(key, "") for key in ("slug", "name")}
        try:
            team = services.team_create(user=request.user, slug=values["slug"], name=values["name"])
        except ValidationError as error:
            errors, status = _errors(error), 400
        else:
            messages.success(request, f"Team {team.name} created. Add its first owner below.")
            return redirect("team-detail", slug=team.slug)
    return render(request, "portal/team_list.html", {
        "teams": selectors.teams_listed(request.user), "can_create": is_platform_admin(request.user),
        "errors": errors, "values": values}, status=status)


def _team(request, slug):
    """A team the user may see (404 otherwise: slugs do not reveal which teams exist)."""
    return get_object_or_404(visible_teams(request.user), slug=slug)


def _detail(request, team, *, errors=None, values=None, status=200):
    return render(request, "portal/team_detail.html", {
        "team": team, "members": selectors.team_members(team), "robots": selectors.team_robots(team),
        "can_manage": services.can_manage_team(request.user, team), "roles": Membership.Role.choices,
        "is_member": team.memberships.filter(user=request.user).exists(),
        "errors": errors or {}, "values": values or {}}, status=status)


@require_http_methods(["GET"])
def team_detail(request, slug):
    return _detail(request, _team(request, slug))


def _refused(request, team, error, values=None):
    if isinstance(error, PermissionDenied):
        raise error
    return _detail(request, team, errors=_errors(error), values=values, status=400)


@require_POST
def team_alerts(request, slug):
    team = _team(request, slug)
    values = {key: request.POST.get(key, "") for key in ("webhook_url", "alert_email")}
    try:
        services.team_alerts_update(user=request.user, team=team, **values)
    except (ValidationError, PermissionDenied) as error:
        team.refresh_from_db()
        return _refused(request, team, error, values)
    messages.success(request, "Alert settings saved.")
    return redirect("team-detail", slug=team.slug)


@require_POST
def team_member_add(request, slug):
    team = _team(request, slug)
    values = {"username": request.POST.get("username", ""), "role": request.POST.get("role", Membership.Role.MEMBER)}
    try:
        membership = services.membership_add(user=request.user, team=team, **values)
    except (ValidationError, PermissionDenied) as error:
        return _refused(request, team, error, values)
    messages.success(request, f"{membership.user.username} added to {team.name} as {membership.get_role_display().lower()}.")
    return redirect("team-detail", slug=team.slug)


def _membership(team, membership_id):
    return get_object_or_404(Membership.objects.select_related("user", "team"), team=team, pk=membership_id)


@require_POST
def team_member_role(request, slug, membership_id):
    team = _team(request, slug)
    membership = _membership(team, membership_id)
    try:
        membership = services.membership_role_change(user=request.user, membership=membership, role=request.POST.get("role", ""))
    except (ValidationError, PermissionDenied) as error:
        return _refused(request, team, error)
    messages.success(request, f"{membership.user.username} is now {membership.get_role_display().lower()} of {team.name}.")
    return redirect("team-detail", slug=team.slug)


@require_POST
def team_member_remove(request, slug, membership_id):
    team = _team(request, slug)
    membership = _membership(team, membership_id)
    try:
        services.membership_remove(user=request.user, membership=membership)
    except (ValidationError, PermissionDenied) as error:
        return _refused(request, team, error)
    messages.success(request, f"{membership.user.username} removed from {team.name}.")
    return redirect("team-detail", slug=team.slug)
