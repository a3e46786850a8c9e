"""The robots page: a team's registry logins, created, rotated and revoked by its members. A new
secret is shown on the answer to the request that made it, once; it is never stored readable."""
import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST

from adapters.factory import registry_host
from portal.rbac import teams_of
from portal.robots.services import robot_create, robot_revoke, robot_rotate, robots_visible_to


def _expiry(value: str):
    day = parse_date(value or "")
    return datetime.datetime.combine(day, datetime.time(23, 59), tzinfo=datetime.timezone.utc) if day else None


def _page(request, *, shown=None, errors=None, values=None, status=200):
    return render(request, "portal/robots.html", {
        "robots": robots_visible_to(request.user), "teams": teams_of(request.user), "shown": shown,
        "errors": errors or {}, "values": values or {}, "registry": registry_host()}, status=status)


def robot_list(request):
    if request.method != "POST":
        return _page(request)
    values = {key: request.POST.get(key, "") for key in ("team", "name", "expires")}
    team = get_object_or_404(teams_of(request.user), slug=values["team"])
    try:
        robot, secret = robot_create(user=request.user, team=team, name=values["name"], expires_at=_expiry(values["expires"]))
    except ValidationError as error:
        return _page(request, errors=error.message_dict, values=values, status=400)
    return _page(request, shown={"robot": robot, "secret": secret, "what": "created"})


def _robot(request, pk):
    return get_object_or_404(robots_visible_to(request.user), pk=pk)


@require_POST
def robot_rotate_view(request, pk):
    robot = _robot(request, pk)
    try:
        secret = robot_rotate(user=request.user, robot=robot, expires_at=_expiry(request.POST.get("expires", "")))
    except ValidationError as error:
        messages.error(request, " ".join(m for ms in error.message_dict.values() for m in ms))
        return redirect("robot-list")
    except PermissionDenied as error:
        messages.error(request, str(error))
        return redirect("robot-list")
    robot.refresh_from_db()
    return _page(request, shown={"robot": robot, "secret": secret, "what": "rotated"})


@require_POST
def robot_revoke_view(request, pk):
    robot = _robot(request, pk)
    try:
        robot_revoke(user=request.user, robot=robot)
        messages.success(request, f"{robot.username} is revoked: its logins and tokens stop working.")
    except PermissionDenied as error:
        messages.error(request, str(error))
    return redirect("robot-list")
