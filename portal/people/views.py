"""People pages, for platform admins: users with their teams and global roles, a new user (its
one-time password shown once, on the answer that made it), roles granted and revoked, accounts
deactivated, passwords reset (a new one-time password, shown once), invitations by e-mail sent,
resent and revoked. Everything goes through portal.people.services and portal.people.invitations."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from portal.models import GlobalRole, Invitation, Membership, Team
from portal.people import invitations, services
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
        "issued": issued, "invitations": invitations.pending_invitations(), "teams": Team.objects.all(),
        "roles": Membership.Role.choices, "invitation_days": settings.INVITATION_DAYS}, status=status)
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


# The invitation form's fields are named invite_* on the page (the new user form has an e-mail too).
INVITE_FIELDS = ("email", "team", "role")


@require_POST
def invitation_create(request):
    _require_admin(request)
    values = {f"invite_{key}": request.POST.get(f"invite_{key}", "").strip() for key in INVITE_FIELDS}
    team = Team.objects.filter(slug=values["invite_team"]).first() if values["invite_team"] else None
    try:
        if values["invite_team"] and team is None:
            raise ValidationError({"team": ["Choose a team from the list, or none."]})
        invitation, _ = invitations.invitation_create(user=request.user, email=values["invite_email"], team=team,
                                                      role=values["invite_role"] if team else "")
    except ValidationError as error:
        return _page(request, errors={f"invite_{key}": problems for key, problems in error.message_dict.items()},
                     values=values, status=400)
    messages.success(request, f"Invitation sent to {invitation.email}; the link works once, for {settings.INVITATION_DAYS} days.")
    return redirect("people-list")


def _invitation_change(request, pk, change, done: str):
    _require_admin(request)
    invitation = get_object_or_404(Invitation, pk=pk)
    try:
        change(user=request.user, invitation=invitation)
    except ValidationError as error:
        return _page(request, errors=error.message_dict, status=400)
    messages.success(request, done.format(email=invitation.email))
    return redirect("people-list")


@require_POST
def invitation_resend(request, pk):
    return _invitation_change(request, pk, invitations.invitation_resend,
                              "Invitation sent again to {email}; the link it had before no longer works.")


@require_POST
def invitation_revoke(request, pk):
    return _invitation_change(request, pk, invitations.invitation_revoke, "Invitation of {email} revoked: its link no longer works.")


@login_not_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    """The invitee's page (no login): they choose a user name and a password, are logged in and land
    on the home page. A link that cannot be used gets one answer, whatever the reason (404)."""
    try:
        invitation = invitations.invitation_for_token(token)
        values, errors, status = {"username": request.POST.get("username", "")}, {}, 200
        if request.method == "POST":
            try:
                person = invitations.invitation_accept(token=token, username=values["username"],
                                                       password=request.POST.get("password", ""),
                                                       password_again=request.POST.get("password_again", ""))
            except ValidationError as error:
                errors, status = error.message_dict, 400
            else:
                login(request, person, backend="django.contrib.auth.backends.ModelBackend")
                where = f" You are in team {invitation.team.name}." if invitation.team else ""
                messages.success(request, f"Welcome, {person.username}: your account is ready.{where}")
                return redirect("home")
    except invitations.InvitationInvalid:
        response = render(request, "portal/invitation_accept.html", {"invalid": invitations.NO_LONGER_VALID}, status=404)
    else:
        response = render(request, "portal/invitation_accept.html",
                          {"invitation": invitation, "errors": errors, "values": values}, status=status)
    response["Cache-Control"] = "no-store"
    # The token is in this page's address: never sent to another site (no-referrer would also make the
    # browser send "Origin: null" with the form, which the CSRF check refuses).
    response["Referrer-Policy"] = "same-origin"
    return response
