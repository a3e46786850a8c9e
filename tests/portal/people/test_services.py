"""People services: platform admins alone create users, grant and revoke global roles, deactivate
users and reset passwords; the last platform admin is never removed; a password an admin set must be
replaced by its user; every change is audited."""
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from portal.accounts.models import PasswordChangeRequired
from portal.models import AuditEvent, GlobalRole, Membership
from portal.people.services import (
    global_role_grant,
    global_role_revoke,
    user_create,
    user_deactivate,
    user_password_reset,
    user_reactivate,
)
from portal.rbac import is_platform_admin, is_security_reviewer
from tests.factories import UserFactory, member_of, with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(team):
    return member_of(team, "olga", role=Membership.Role.OWNER)


def test_an_admin_creates_a_user_with_a_one_time_password_never_stored_readable(admin, client):
    person, password = user_create(actor=admin, username="jdoe", email="jdoe@example.com")
    assert person.check_password(password) and password not in person.password and len(password) >= 16
    event = AuditEvent.objects.get(action="user.created")
    assert event.actor == admin and event.data == {"username": "jdoe", "email": "jdoe@example.com"}
    assert password not in str(event.data)
    assert client.post("/login/", {"username": "jdoe", "password": password}).status_code == 302
    flag = PasswordChangeRequired.objects.get(user=person)
    assert (flag.reason, flag.set_by) == ("created", admin), "they must choose their own password first"


@pytest.mark.parametrize("username, email, fields", [
    ("", "", {"username", "email"}), ("j doe", "jdoe@example.com", {"username"}), ("ALICE", "a@example.com", {"username"}),
    ("jdoe", "not-an-address", {"email"})])
def test_user_creation_is_validated(admin, member, username, email, fields):
    with pytest.raises(ValidationError) as error:
        user_create(actor=admin, username=username, email=email)
    assert set(error.value.message_dict) == fields
    assert not get_user_model().objects.filter(username="jdoe").exists()


@pytest.mark.parametrize("who", ["member", "owner", "outsider", "reviewer"])
def test_nobody_but_platform_admins_manages_people(request, who, admin, member):
    user = request.getfixturevalue(who)
    for attempt in (lambda: user_create(actor=user, username="jdoe", email="jdoe@example.com"),
                    lambda: global_role_grant(actor=user, user=user, kind="platform_admin"),
                    lambda: global_role_revoke(actor=user, user=admin, kind="platform_admin"),
                    lambda: user_deactivate(actor=user, user=member if user != member else admin),
                    lambda: user_password_reset(actor=user, user=member if user != member else admin)):
        with pytest.raises(PermissionDenied):
            attempt()
    assert not is_platform_admin(user) and not AuditEvent.objects.filter(action__startswith="user.").exists()


def test_roles_are_granted_and_revoked_with_a_record(admin, member):
    global_role_grant(actor=admin, user=member, kind="security_reviewer")
    assert is_security_reviewer(member) and not is_platform_admin(member)
    global_role_grant(actor=admin, user=member, kind="security_reviewer")  # twice: once recorded
    global_role_revoke(actor=admin, user=member, kind="security_reviewer")
    assert not is_security_reviewer(member)
    assert list(AuditEvent.objects.order_by("created").values_list("action", "data__kind")) == [
        ("user.role_granted", "security_reviewer"), ("user.role_revoked", "security_reviewer")]
    with pytest.raises(ValidationError):
        global_role_grant(actor=admin, user=member, kind="king")


def test_the_last_platform_admin_keeps_the_role(admin, member):
    with pytest.raises(ValidationError) as error:
        global_role_revoke(actor=admin, user=admin, kind="platform_admin")
    assert "last platform admin" in error.value.message_dict["kind"][0]
    assert is_platform_admin(admin)
    global_role_grant(actor=admin, user=member, kind="platform_admin")
    global_role_revoke(actor=member, user=admin, kind="platform_admin")
    assert not is_platform_admin(admin)
    # An inactive admin does not count as one left.
    global_role_grant(actor=member, user=admin, kind="platform_admin")
    user_deactivate(actor=member, user=admin)
    with pytest.raises(ValidationError):
        global_role_revoke(actor=member, user=member, kind="platform_admin")


def test_deactivation_stops_logins_and_tokens_and_can_be_undone(admin, member, client):
    user_deactivate(actor=admin, user=member)
    member.refresh_from_db()
    assert not member.is_active and client.post("/login/", {"username": "alice", "password": "pw-for-tests-1"}).status_code == 200
    assert Membership.objects.filter(user=member).exists(), "history and memberships stay"
    with pytest.raises(ValidationError):
        global_role_grant(actor=admin, user=member, kind="security_reviewer")
    user_reactivate(actor=admin, user=member)
    member.refresh_from_db()
    assert member.is_active
    assert list(AuditEvent.objects.order_by("created").values_list("action", flat=True)) == ["user.deactivated", "user.reactivated"]


def test_an_admin_cannot_deactivate_themself(admin):
    with pytest.raises(ValidationError):
        user_deactivate(actor=admin, user=admin)
    admin.refresh_from_db()
    assert admin.is_active


def test_a_reset_gives_a_new_one_time_password_the_user_must_replace(admin, member, client):
    client.force_login(member)
    password = user_password_reset(actor=admin, user=member)
    member.refresh_from_db()
    assert member.check_password(password) and not member.check_password("pw-for-tests-1") and len(password) >= 16
    assert client.get("/teams/").status_code == 302 and "/login/" in client.get("/teams/")["Location"], \
        "their session ended with the old password"
    flag = PasswordChangeRequired.objects.get(user=member)
    assert (flag.reason, flag.set_by) == ("reset", admin)
    event = AuditEvent.objects.get(action="user.password_reset")
    assert (event.actor, event.data) == (admin, {"username": "alice", "tokens_revoked": []}) and password not in str(event.data)


def test_a_reset_ends_the_users_api_tokens_for_good(admin, member):
    """Whoever holds a token of an account an admin had to reset must not be back once the user
    sets a new password."""
    from rest_framework.test import APIClient

    from portal.accounts.passwords import password_changed
    from portal.accounts.tokens import token_issue

    issued = token_issue(user=member, name="laptop")
    user_password_reset(actor=admin, user=member)
    password_changed(user=member)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issued.secret}")
    answer = api.get("/api/builds/")
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
    assert AuditEvent.objects.get(action="user.password_reset").data["tokens_revoked"] == [issued.token.prefix]


def test_an_admin_resets_neither_their_own_password_nor_a_superusers(admin):
    boss = UserFactory(username="root", is_superuser=True)
    for target, words in ((admin, "your own password"), (boss, "only a superuser")):
        with pytest.raises(ValidationError) as error:
            user_password_reset(actor=admin, user=target)
        assert words in error.value.message_dict["user"][0]
        target.refresh_from_db()
        assert target.check_password("pw-for-tests-1")
    assert not PasswordChangeRequired.objects.exists() and not AuditEvent.objects.exists()
    user_password_reset(actor=with_role(boss, GlobalRole.Kind.PLATFORM_ADMIN), user=UserFactory(username="other-root", is_superuser=True))
