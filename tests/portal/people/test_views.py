"""The People page: platform admins only; a new user's password shown once; errors keep what was typed."""
import pytest

pytestmark = pytest.mark.django_db


def test_only_platform_admins_open_people(client, member, reviewer, admin, team):
    for user in (member, reviewer):
        client.force_login(user)
        response = client.get("/people/")
        assert response.status_code == 403 and "Ask a platform admin" in response.content.decode()
        assert 'href="/people/"' not in client.get("/teams/").content.decode()
    client.force_login(admin)
    page = client.get("/people/").content.decode()
    assert "alice" in page and "/teams/payments/" in page and "rita" in page and "Security reviewer" in page
    assert 'href="/people/"' in page


def test_a_new_users_password_is_shown_once(client, admin):
    client.force_login(admin)
    created = client.post("/people/", {"username": "jdoe", "email": "jdoe@example.com"})
    page = created.content.decode()
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    password = page.split('id="issued-password" class="code secret" value="', 1)[1].split('"', 1)[0]
    assert password not in client.get("/people/").content.decode()
    client.logout()
    assert client.post("/login/", {"username": "jdoe", "password": password}).status_code == 302


def test_errors_are_summarised_and_keep_what_was_typed(client, admin, member):
    client.force_login(admin)
    refused = client.post("/people/", {"username": "alice", "email": "nope"})
    page = refused.content.decode()
    assert refused.status_code == 400 and "There is a problem" in page and "already exists" in page
    assert 'value="alice"' in page and 'value="nope"' in page and 'href="#field-email"' in page


def test_roles_and_deactivation_from_the_page(client, admin, member):
    client.force_login(admin)
    assert client.post(f"/people/{member.pk}/roles", {"kind": "security_reviewer", "action": "grant"}).status_code == 302
    assert member.global_roles.filter(kind="security_reviewer").exists()
    refused = client.post(f"/people/{admin.pk}/roles", {"kind": "platform_admin", "action": "revoke"})
    assert refused.status_code == 400 and "last platform admin" in refused.content.decode()
    assert client.post(f"/people/{member.pk}/active").status_code == 302
    member.refresh_from_db()
    assert not member.is_active


def test_a_reset_from_the_page_shows_the_new_password_once(client, admin, member):
    client.force_login(admin)
    reset = client.post(f"/people/{member.pk}/password")
    page = reset.content.decode()
    assert reset.status_code == 200 and reset["Cache-Control"] == "no-store" and "New one-time password for alice" in page
    password = page.split('id="issued-password" class="code secret" value="', 1)[1].split('"', 1)[0]
    member.refresh_from_db()
    assert member.check_password(password)
    listed = client.get("/people/").content.decode()
    assert password not in listed and "one-time password</span>" in listed
    assert f'action="/people/{admin.pk}/password"' not in listed, "no reset of one's own password here"
    refused = client.post(f"/people/{admin.pk}/password")
    assert refused.status_code == 400 and "your own password" in refused.content.decode()
