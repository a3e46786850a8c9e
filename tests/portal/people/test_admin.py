"""The Django admin's users are no door around the people rules: activation, superuser and staff
flags, global roles, passwords, new users and deletion are the People page's (services, audit, the
last platform admin kept); the admin shows them and links there, and edits names and e-mail only."""
import pytest
from django.contrib.auth import get_user_model

from portal.models import AuditEvent, GlobalRole
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def root(db):
    """The only platform admin, a superuser (as `manage.py ensure_admin` makes the first one)."""
    return with_role(UserFactory(username="root", is_superuser=True, is_staff=True), GlobalRole.Kind.PLATFORM_ADMIN)


def _form(client, user) -> tuple[str, dict]:
    """The change form's URL and what a browser would post back unchanged."""
    url = f"/admin/auth/user/{user.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    data = {name: value for name, value in page.context["adminform"].form.initial.items() if value is not None}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data |= {management.add_prefix(name): value for name, value in management.initial.items()}
    return url, data


@pytest.mark.parametrize("who", ["root", "admin"])
def test_the_fields_the_services_own_cannot_be_changed_in_the_admin(request, client, root, member, who):
    editor = request.getfixturevalue(who)
    client.force_login(editor)
    url, data = _form(client, root)
    page = client.get(url).content.decode()
    assert f'href="/people/#person-{root.pk}"' in page, "the admin says where roles and activation change"
    # A crafted post: deactivate the last platform admin, drop superuser, hand out staff, rename.
    data |= {"is_active": "", "is_superuser": "", "is_staff": "on", "username": "renamed", "email": "root@example.com",
             "groups": [], "password": "x", "global_roles-TOTAL_FORMS": "0", "global_roles-INITIAL_FORMS": "0"}
    saved = client.post(url, data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    root.refresh_from_db()
    assert (root.username, root.is_active, root.is_superuser, root.is_staff) == ("root", True, True, True)
    assert root.check_password("pw-for-tests-1") and root.global_roles.filter(kind="platform_admin").exists()
    assert root.email == "root@example.com", "names and e-mail are the admin's to edit"
    event = AuditEvent.objects.get(action="portal.user.changed")
    assert (event.actor, event.data["fields"]) == (editor, ["email"])


def test_users_are_neither_added_deleted_nor_given_a_password_in_the_admin(client, root, member):
    client.force_login(root)
    assert client.get("/admin/auth/user/add/").status_code == 403
    assert client.post("/admin/auth/user/add/", {"username": "sneaky", "password1": "a-long-one-1", "password2": "a-long-one-1"}).status_code == 403
    assert client.post(f"/admin/auth/user/{member.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post("/admin/auth/user/", {"action": "delete_selected", "_selected_action": [member.pk], "post": "yes"})  # no such action
    password = client.post(f"/admin/auth/user/{member.pk}/password/", {"password1": "chosen-by-admin-1", "password2": "chosen-by-admin-1"})
    assert password.status_code == 302 and password["Location"] == f"/people/#person-{member.pk}"
    member.refresh_from_db()
    assert member.is_active and member.check_password("pw-for-tests-1")
    assert not User.objects.filter(username="sneaky").exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize("who", ["member", "reviewer"])
def test_only_platform_admins_open_users_in_the_admin(client, member, reviewer, who):
    client.force_login({"member": member, "reviewer": reviewer}[who])
    assert client.get(f"/admin/auth/user/{member.pk}/change/", follow=True).status_code == 403
