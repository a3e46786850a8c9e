"""The people API keeps the People page's rules: platform admins only (403 on every route for anyone
else, whatever the id or body), the last platform admin kept, one-time passwords shown once."""
import pytest
from django.contrib.auth import get_user_model

from portal.accounts.models import PasswordChangeRequired
from portal.models import AuditEvent, GlobalRole, Membership
from portal.rbac import is_platform_admin, is_security_reviewer
from tests.builds.test_api import api_for
from tests.factories import UserFactory, member_of, with_role

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_an_admin_reads_everyone_with_their_roles_teams_and_state(admin, member, reviewer):
    listed = api_for(admin).get("/api/people/")
    assert listed.status_code == 200
    people = {p["username"]: p for p in listed.json()["results"]}
    assert set(people) == {"alice", "pat", "rita"}
    assert people["alice"]["teams"] == [{"slug": "payments", "role": "member"}] and people["alice"]["global_roles"] == []
    assert people["rita"]["global_roles"] == ["security_reviewer"] and people["pat"]["global_roles"] == ["platform_admin"]
    assert all(p["is_active"] and not p["one_time_password"] and "password" not in p for p in people.values())
    assert api_for(admin).get(f"/api/people/{member.pk}/").json() == people["alice"]


def test_a_new_user_comes_with_a_one_time_password_shown_once(admin, client):
    created = api_for(admin).post("/api/people/", {"username": "jdoe", "email": "jdoe@example.com"}, format="json")
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    body = created.json()
    person = User.objects.get(username="jdoe")
    assert body["id"] == person.pk and person.check_password(body["password"]) and body["password"] not in person.password
    assert body["one_time_password"] and body["global_roles"] == [] and body["teams"] == []
    assert PasswordChangeRequired.objects.filter(user=person, reason="created").exists()
    assert "password" not in api_for(admin).get(f"/api/people/{person.pk}/").json()
    assert AuditEvent.objects.get(action="user.created").actor == admin


@pytest.mark.parametrize("body, fields", [
    ({"username": "", "email": ""}, {"username", "email"}),
    ({"username": "j doe", "email": "jdoe@example.com"}, {"username"}),
    ({"username": "jdoe/../x", "email": "jdoe@example.com"}, {"username"}),
    ({"username": "ALICE", "email": "a@example.com"}, {"username"}),  # taken, whatever its case
    ({"username": "j" * 151, "email": "jdoe@example.com"}, {"username"}),
    ({"username": "jdoe", "email": "not-an-address"}, {"email"}),
    ({"username": "jdoe", "email": "jdoe@example.com\n"}, set()),  # trimmed, then fine
    ({"username": "jdoe", "email": "a@b@example.com"}, {"email"}),
    ({"username": "jdoe\x00", "email": "jdoe@example.com"}, {"username"}),
    ({"username": "jdoe"}, {"email"}),
    ({"username": ["jdoe"], "email": "jdoe@example.com"}, {"username"}),
])
def test_bad_user_names_and_addresses_are_refused_by_field(admin, member, body, fields):
    response = api_for(admin).post("/api/people/", body, format="json")
    if not fields:
        assert response.status_code == 201 and response.json()["email"] == "jdoe@example.com"
        return
    assert response.status_code == 400, response.content
    assert set(response.json()) == fields and all(isinstance(m, str) for f in fields for m in response.json()[f])
    assert not User.objects.exclude(username__in=["alice", "pat"]).exists()
    assert not AuditEvent.objects.filter(action__startswith="user.").exists()


def test_roles_are_granted_and_revoked_with_a_record(admin, member):
    api = api_for(admin)
    granted = api.post(f"/api/people/{member.pk}/roles/", {"kind": "security_reviewer"}, format="json")
    assert granted.status_code == 200 and granted.json()["global_roles"] == ["security_reviewer"] and is_security_reviewer(member)
    revoked = api.delete(f"/api/people/{member.pk}/roles/security_reviewer/")
    assert revoked.status_code == 200 and revoked.json()["global_roles"] == [] and not is_security_reviewer(member)
    assert list(AuditEvent.objects.filter(action__startswith="user.").order_by("created").values_list("action", flat=True)) == [
        "user.role_granted", "user.role_revoked"]
    unknown = api.post(f"/api/people/{member.pk}/roles/", {"kind": "king"}, format="json")
    assert unknown.status_code == 400 and "kind" in unknown.json()
    unknown = api.delete(f"/api/people/{member.pk}/roles/king/")
    assert unknown.status_code == 400 and "Choose a global role" in unknown.json()["kind"][0]
    assert api.post("/api/people/999999/roles/", {"kind": "security_reviewer"}, format="json").status_code == 404


def test_the_last_platform_admin_can_neither_drop_their_role_nor_deactivate_themself(admin, member):
    api = api_for(admin)
    refused = api.delete(f"/api/people/{admin.pk}/roles/platform_admin/")
    assert refused.status_code == 400 and "last platform admin" in refused.json()["kind"][0]
    refused = api.post(f"/api/people/{admin.pk}/deactivate/")
    assert refused.status_code == 400 and "your own account" in refused.json()["user"][0]
    # A second admin who is deactivated does not count as one left.
    other = with_role(UserFactory(username="quinn"), GlobalRole.Kind.PLATFORM_ADMIN)
    assert api.post(f"/api/people/{other.pk}/deactivate/").json()["is_active"] is False
    assert api.delete(f"/api/people/{admin.pk}/roles/platform_admin/").status_code == 400
    admin.refresh_from_db()
    assert admin.is_active and is_platform_admin(admin)
    # With another active admin, the role goes (and the caller's next call is refused: no longer an admin).
    assert api.post(f"/api/people/{other.pk}/reactivate/").json()["is_active"] is True
    assert api.delete(f"/api/people/{admin.pk}/roles/platform_admin/").status_code == 200
    assert api.get("/api/people/").status_code == 403


def test_deactivation_and_reactivation(admin, member):
    api = api_for(admin)
    token = api_for(member)
    assert api.post(f"/api/people/{member.pk}/deactivate/").json()["is_active"] is False
    assert token.get("/api/teams/").status_code == 401, "a deactivated user's tokens stop working"
    assert api.post(f"/api/people/{member.pk}/reactivate/").json()["is_active"] is True
    assert token.get("/api/teams/").status_code == 200
    assert Membership.objects.filter(user=member).exists()


def test_a_password_reset_answers_a_new_one_time_password_once(admin, member):
    reset = api_for(admin).post(f"/api/people/{member.pk}/password-reset/")
    assert reset.status_code == 200 and reset["Cache-Control"] == "no-store"
    member.refresh_from_db()
    assert member.check_password(reset.json()["password"]) and reset.json()["one_time_password"]
    assert AuditEvent.objects.filter(action="user.password_reset", actor=admin).exists()
    refused = api_for(admin).post(f"/api/people/{admin.pk}/password-reset/")
    assert refused.status_code == 400 and "your own password" in refused.json()["user"][0]


ROUTES = [("get", "/api/people/"), ("post", "/api/people/"), ("get", "/api/people/{id}/"),
          ("post", "/api/people/{id}/roles/"), ("delete", "/api/people/{id}/roles/platform_admin/"),
          ("post", "/api/people/{id}/deactivate/"), ("post", "/api/people/{id}/reactivate/"),
          ("post", "/api/people/{id}/password-reset/")]


@pytest.mark.parametrize("who", ["member", "owner", "outsider", "reviewer"])
@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_nobody_else_uses_any_route_whatever_they_send(request, team, admin, member, who, method, path):
    caller = member_of(team, "olga", role=Membership.Role.OWNER) if who == "owner" else request.getfixturevalue(who)
    targets = {"own id": caller.pk, "the admin's id": admin.pk, "an id nobody has": 999999}
    bodies = [{"username": "jdoe", "email": "jdoe@example.com", "kind": "platform_admin"}, {"username": "", "kind": "king"}]
    before = (sorted(User.objects.values_list("username", "is_active", "password")), sorted(GlobalRole.objects.values_list("user", "kind")))
    api = api_for(caller)
    for target in targets.values():
        for body in bodies:
            response = getattr(api, method)(path.format(id=target), body, format="json")
            assert response.status_code == 403, (target, body, response.content)
            assert "Only platform admins manage people" in response.json()["detail"]
    after = (sorted(User.objects.values_list("username", "is_active", "password")), sorted(GlobalRole.objects.values_list("user", "kind")))
    assert after == before and not AuditEvent.objects.filter(action__startswith="user.").exists()
