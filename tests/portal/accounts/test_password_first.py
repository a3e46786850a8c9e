"""A user holding a one-time password (made by a platform admin, or reset by one) chooses their own
before anything else, at every door: each page leads to the password page, the API refuses their
session and their tokens with a 403 saying why, no new API or registry token is issued to them.
Logging in and out, the password page, static files and the probes stay open. After the change
they go where they were going."""
import base64
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from portal.accounts.middleware import PASSES
from portal.accounts.models import PasswordChangeRequired
from portal.accounts.passwords import API_MESSAGE
from portal.models import AuditEvent
from portal.people.services import user_create, user_password_reset
from tests.factories import api_token_for
from tests.test_role_matrix import url_names

pytestmark = pytest.mark.django_db
NEW = "a-long-passphrase-of-mine"
PUBLIC_API = {"api-token", "api-schema"}  # no login: the same for anyone


@pytest.fixture
def newcomer(admin):
    person, password = user_create(actor=admin, username="jdoe", email="jdoe@example.com")
    person.given_password = password
    return person


def _url(route_name: str, route: str) -> str:
    names = {a or b for a, b in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)}
    return reverse(route_name, kwargs={name: "1" for name in names} or None)


def _pages():
    return sorted((name, _url(name, route)) for name, route in url_names().items()
                  if not route.startswith(("api/", "harbor/")) and name not in PASSES)


def _api_routes():
    return sorted((name, _url(name, route)) for name, route in url_names().items()
                  if route.startswith("api/") and name not in PUBLIC_API)


def _change(client, given, **extra):
    return client.post("/account/password/", {"old_password": given, "new_password1": NEW, "new_password2": NEW, **extra})


def test_logging_in_leads_to_the_password_page_then_where_the_user_was_going(client, newcomer):
    logged_in = client.post("/login/?next=/teams/", {"username": "jdoe", "password": newcomer.given_password})
    assert logged_in.status_code == 302 and logged_in["Location"] == "/teams/"
    sent = client.get("/teams/")
    assert sent.status_code == 302 and sent["Location"] == "/account/password/?next=%2Fteams%2F"
    page = client.get(sent["Location"])
    text = page.content.decode()
    assert page.status_code == 200 and "Choose your own password" in text and "one-time password" in text
    assert 'name="next" value="/teams/"' in text
    assert 'aria-label="Main"' not in text, "no navigation to pages that would only lead back here"
    changed = _change(client, newcomer.given_password, next="/teams/")
    assert changed.status_code == 302 and changed["Location"] == "/teams/"
    assert client.get("/teams/").status_code == 200
    assert not PasswordChangeRequired.objects.filter(user=newcomer).exists()
    event = AuditEvent.objects.get(action="user.password_changed")
    assert event.actor == newcomer and event.data == {"replaced_one_time_password": True}


def test_every_page_leads_to_the_password_page(client, newcomer):
    client.force_login(newcomer)
    wrong = []
    for name, url in _pages():
        got = client.get(url)
        if got.status_code != 302 or not got["Location"].startswith("/account/password/?next="):
            wrong.append(f"GET {name} {url}: {got.status_code} {got.get('Location')}")
        posted = client.post(url)
        if posted.status_code != 302 or posted["Location"] != "/account/password/":
            wrong.append(f"POST {name} {url}: {posted.status_code} {posted.get('Location')}")
    assert not wrong, "\n".join(wrong)
    assert client.get("/admin/auth/user/")["Location"].startswith("/account/password/"), "the Django admin too"
    fragment = client.get("/teams/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/builds/")
    assert fragment.status_code == 200 and fragment["HX-Redirect"] == "/account/password/?next=%2Fbuilds%2F"


def test_what_stays_open_with_a_one_time_password(client, newcomer):
    client.force_login(newcomer)
    assert client.get("/account/password/").status_code == 200
    assert client.get("/login/").status_code == 200
    assert client.get("/healthz").status_code == 200 and client.get("/metrics").status_code == 200
    assert client.get("/static/css/portal.css").status_code == 200
    assert client.get("/api/schema/").status_code == 200
    assert client.post("/logout/")["Location"] == "/login/"


def test_the_api_refuses_the_session_on_every_route(client, newcomer):
    client.force_login(newcomer)
    wrong = []
    for name, url in _api_routes():
        got = client.get(url)
        if got.status_code != 403 or got.json() != {"detail": API_MESSAGE}:
            wrong.append(f"{name} {url}: {got.status_code} {got.content[:200]}")
    assert not wrong, "\n".join(wrong)


def test_a_reset_ends_the_users_tokens_and_no_new_one_is_given_before_the_change(client, admin, member):
    secret = api_token_for(member)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/teams/").status_code == 200
    given = user_password_reset(actor=admin, user=member)
    refused = api.get("/api/teams/")
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    minted = APIClient().post("/api/token/", {"username": "alice", "password": given}, format="json")
    assert minted.status_code == 403 and minted.json() == {"detail": API_MESSAGE}
    client.force_login(member)
    page = client.get("/account/password/").content.decode()
    assert "A platform admin reset your password" in page
    assert _change(client, given).status_code == 302
    assert api.get("/api/teams/").status_code == 401, "the old token stays revoked after the change"
    again = APIClient().post("/api/token/", {"username": "alice", "password": NEW}, format="json")
    assert again.status_code in (200, 201), again.content


def test_the_registry_does_not_log_in_a_one_time_password(client, newcomer, settings, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = tmp_path / "registry-key.pem"
    key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    settings.REGISTRY_TOKEN_KEY_FILE = str(key)
    basic = base64.b64encode(f"jdoe:{newcomer.given_password}".encode()).decode()
    refused = client.get("/registry/token", HTTP_AUTHORIZATION=f"Basic {basic}")
    assert refused.status_code == 401 and "one-time password" in refused.json()["errors"][0]["message"]
    PasswordChangeRequired.objects.filter(user=newcomer).delete()
    assert client.get("/registry/token", HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 200


@pytest.mark.parametrize("wanted", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_the_way_on_stays_in_the_portal(client, newcomer, wanted):
    client.force_login(newcomer)
    changed = _change(client, newcomer.given_password, next=wanted)
    assert changed.status_code == 302 and changed["Location"] == "/"


def test_a_user_who_chose_their_password_is_not_sent_there(client, member):
    client.force_login(member)
    assert client.get("/teams/").status_code == 200
    page = client.get("/account/password/").content.decode()
    assert "Change your password" in page and "one-time password" not in page and 'aria-label="Main"' in page
