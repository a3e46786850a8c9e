"""People pages, for platform admins: users with their teams and global roles, a new user (its
one-time password shown once, on the answer that made it), roles granted and revoked, accounts
deactivated, passwords reset (a new one-time password, shown once). Everything goes through
portal.people.services."""
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from portal.models import GlobalRole
from portal.people import services
from portal.people.selectors import holds_one_time_password, people_with_roles, role_kinds
from portal.rbac import is_platform_admin


def _require_admin(request):
    if not is_platform_admin(request.user):
        raise PermissionDenied("The People page is for platform admins. Ask a platform admin to add or change a user.")


def _page(request, *, errors=None, values=None, issued=None, status=200):
    """The page; `issued` is a one-time password just made ({"user", "password", "reset"}), shown this once."""
    people = list(people_with_roles())
    for person in people:
        person.role_kinds, person.one_time_password = role_kinds(person), holds_one_time_password(person)
    response = render(request, "portal/people.html", {
        "people": people, "kinds": GlobalRole.Kind.choices, "errors": errors or {}, "values": values or {},
        "issued": issued}, status=status)
    if issued:
        response["Cache-Control"] = "no-store"  # the page carries a password
    return response


@require_http_methods(["GET", "POST"])
def people_list(request):
    _require_admin(request)
    if request.method != "POST":
        return _page(request)
    values = {key: request.POST.get(key, "") for key in ("username", "email")}
    try:
        person, password = services.user_create(actor=request.user, **values)
    except ValidationError as error:
        return _page(request, errors=error.message_dict, values=values, status=400)
    return _page(request, issued={"user": person, "password": password, "reset": False}, status=201)


def _person(request, pk):
    _require_admin(request)
    return get_object_or_404(get_user_model(), pk=pk)


@require_POST
def person_role(request, pk):
    person = _person(request, pk)
    kind, grant = request.POST.get("kind", ""), request.POST.get("action") == "grant"
    try:
        if grant:
            services.global_role_grant(actor=request.user, user=person, kind=kind)
        else:
            services.global_role_revoke(actor=request.user, user=person, kind=kind)
    except ValidationError as error:
        return _page(request, errors=error.message_dict, status=400)
    label = GlobalRole.Kind(kind).label.lower()
    messages.success(request, f"{person.username} {'is now' if grant else 'is no longer'} a {label}.")
    return redirect("people-list")


@require_POST
def person_active(request, pk):
    person = _person(request, pk)
    try:
        if request.POST.get("active") == "1":
            services.user_reactivate(actor=request.user, user=person)
        else:
            services.user_deactivate(actor=request.user, user=person)
    except ValidationError as error:
        return _page(request, errors=error.message_dict, status=400)
    person.refresh_from_db()
    messages.success(request, f"{person.username} is {'active again' if person.is_active else 'deactivated: they can no longer log in or use API tokens'}.")
    return redirect("people-list")


@require_POST
def person_password_reset(request, pk):
    person = _person(request, pk)
    try:
        password = services.user_password_reset(actor=request.user, user=person)
    except ValidationError as error:
        return _page(request, errors=error.message_dict, status=400)
    return _page(request, issued={"user": person, "password": password, "reset": True})
