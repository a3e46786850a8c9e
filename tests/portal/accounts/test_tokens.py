"""API tokens expire, are stored hashed, and their owner (only) rotates and revokes them; a request
with an expired, rotated or revoked token gets a 401 saying which."""
import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from portal.accounts.models import ApiToken
from portal.accounts.tokens import token_digest, token_issue, token_revoke, token_rotate
from portal.models import AuditEvent, GlobalRole
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db


def api(secret=None):
    client = APIClient()
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def whoami(secret):
    """A call any signed-in user may make."""
    return api(secret).get("/api/tokens/")


def test_the_token_endpoint_gives_an_expiring_token_that_works(member, settings):
    response = api().post("/api/token/", {"username": "alice", "password": "pw-for-tests-1", "name": "ci"}, format="json")

    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    secret = body["token"]
    assert secret.startswith("ipt_") and len(secret) > 40
    assert body["name"] == "ci" and body["state"] == "active"
    token = ApiToken.objects.get(pk=body["id"])
    lifetime = token.expires_at - token.created
    assert lifetime == datetime.timedelta(hours=settings.API_TOKEN_TTL_HOURS)
    assert whoami(secret).status_code == 200
    assert api(secret).get("/api/builds/").status_code == 200


def test_it_keeps_only_a_hash_of_the_secret(member):
    issued = token_issue(user=member, name="ci")
    row = ApiToken.objects.filter(pk=issued.token.pk).values().get()
    assert issued.secret not in {str(v) for v in row.values()}
    assert row["digest"] == token_digest(issued.secret)
    assert issued.secret[: len(row["prefix"])] == row["prefix"] and len(row["prefix"]) < 16
    assert not any(issued.secret in str(e.data) for e in AuditEvent.objects.all()), "never in the audit log"


def test_an_expired_token_gets_401_saying_so(member):
    issued = token_issue(user=member, name="ci")
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    response = whoami(issued.secret)

    assert response.status_code == 401
    assert "expired on" in response.json()["detail"]
    assert response["WWW-Authenticate"] == "Token"


def test_a_revoked_token_gets_401_saying_so(member):
    issued = token_issue(user=member, name="ci")
    response = api(issued.secret).post(f"/api/tokens/{issued.token.pk}/revoke/")
    assert response.status_code == 200 and response.json()["state"] == "revoked"

    refused = whoami(issued.secret)

    assert refused.status_code == 401 and "was revoked on" in refused.json()["detail"]
    event = AuditEvent.objects.get(action="account.token.revoked")
    assert (event.actor, event.target_id) == (member, str(issued.token.pk))


def test_rotating_kills_the_old_secret_and_the_new_one_works(member):
    issued = token_issue(user=member, name="ci")
    response = api(issued.secret).post(f"/api/tokens/{issued.token.pk}/rotate/")

    assert response.status_code == 201
    new = response.json()
    assert new["name"] == "ci" and new["token"] != issued.secret and new["id"] != issued.token.pk
    old = whoami(issued.secret)
    assert old.status_code == 401 and "was rotated on" in old.json()["detail"]
    assert whoami(new["token"]).status_code == 200
    assert ApiToken.objects.get(pk=issued.token.pk).replaced_by_id == new["id"]
    assert AuditEvent.objects.filter(action="account.token.rotated", target_id=str(issued.token.pk)).exists()


def test_an_expired_token_may_be_rotated_to_renew_it_but_a_revoked_one_may_not(member):
    expired = token_issue(user=member, name="old").token
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(days=1))
    expired.refresh_from_db()
    renewed = token_rotate(user=member, token=expired)
    assert renewed.token.state == "active"

    revoked = token_issue(user=member, name="gone").token
    token_revoke(actor=member, token=revoked)
    with pytest.raises(ValidationError, match="cannot be rotated"):
        token_rotate(user=member, token=revoked)
    with pytest.raises(ValidationError, match="already ended"):
        token_revoke(actor=member, token=revoked)


def test_i_cannot_see_rotate_or_revoke_someone_elses_token(member, outsider):
    theirs = token_issue(user=member, name="ci")
    mine = token_issue(user=outsider, name="mine").secret

    assert api(mine).get(f"/api/tokens/{theirs.token.pk}/").status_code == 404
    assert api(mine).post(f"/api/tokens/{theirs.token.pk}/revoke/").status_code == 404
    assert api(mine).post(f"/api/tokens/{theirs.token.pk}/rotate/").status_code == 404
    assert [t["name"] for t in whoami(mine).json()["results"]] == ["mine"]
    with pytest.raises(PermissionDenied):
        token_revoke(actor=outsider, token=theirs.token)
    with pytest.raises(PermissionDenied):
        token_rotate(user=outsider, token=theirs.token)

    assert whoami(theirs.secret).status_code == 200, "still alive"
    assert not AuditEvent.objects.filter(action__in=["account.token.revoked", "account.token.rotated"]).exists()


def test_the_list_shows_no_secrets(member):
    issued = token_issue(user=member, name="ci")
    listing = whoami(issued.secret)
    assert issued.secret not in listing.content.decode()
    assert set(listing.json()["results"][0]) >= {"id", "name", "prefix", "state", "expires_at", "last_used_at"}
    assert "token" not in listing.json()["results"][0] and "digest" not in listing.json()["results"][0]


def test_a_token_cannot_mint_more_tokens(member):
    secret = token_issue(user=member, name="ci").secret
    assert api(secret).post("/api/tokens/", {"name": "more"}, format="json").status_code == 405
    assert ApiToken.objects.count() == 1


def test_a_token_rotates_only_itself_and_cannot_bring_another_back(client, member):
    ci = token_issue(user=member, name="ci")
    expired = token_issue(user=member, name="old").token
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(days=1))
    refused = api(ci.secret).post(f"/api/tokens/{expired.pk}/rotate/")
    assert refused.status_code == 403 and "only itself" in refused.json()["detail"]
    assert ApiToken.objects.get(pk=expired.pk).state == "expired" and ApiToken.objects.count() == 2
    assert api(ci.secret).post(f"/api/tokens/{ci.token.pk}/rotate/").status_code == 201
    client.force_login(member)  # its owner, signed in with the password, renews any of them
    assert client.post(f"/api/tokens/{expired.pk}/rotate/").status_code == 201


def test_it_caps_the_live_tokens_of_a_user(member, settings):
    settings.API_TOKEN_MAX_PER_USER = 2
    token_issue(user=member, name="a")
    token_issue(user=member, name="b")
    response = api().post("/api/token/", {"username": "alice", "password": "pw-for-tests-1"}, format="json")
    assert response.status_code == 400 and "revoke one" in response.json()["name"][0]
    assert ApiToken.objects.count() == 2


def test_a_name_is_required(member):
    with pytest.raises(ValidationError, match="Give the token a name"):
        token_issue(user=member, name="  ")


def test_an_inactive_users_token_is_refused(member):
    secret = token_issue(user=member, name="ci").secret
    member.is_active = False
    member.save()
    assert whoami(secret).status_code == 401


def test_a_token_from_before_expiry_gets_a_clear_message(member):
    response = whoami("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")
    assert response.status_code == 401 and "no longer accepted" in response.json()["detail"]
    assert "Invalid token." == whoami("ipt_unknown").json()["detail"]


def test_it_records_when_a_token_was_last_used(member):
    issued = token_issue(user=member, name="ci")
    assert issued.token.last_used_at is None
    whoami(issued.secret)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at is not None


def test_a_platform_admin_revokes_any_token_in_the_admin(client, member):
    admin = with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    issued = token_issue(user=member, name="leaked")
    client.force_login(admin)
    changelist = "/admin/portal/apitoken/"
    page = client.get(changelist)
    assert page.status_code == 200 and "leaked" in page.content.decode()
    assert client.post(changelist, {"action": "revoke", "_selected_action": [issued.token.pk]}).status_code == 302
    assert whoami(issued.secret).status_code == 401
    assert AuditEvent.objects.get(action="account.token.revoked").actor == admin


def test_members_cannot_open_the_token_admin(client, member):
    client.force_login(member)
    assert client.get("/admin/portal/apitoken/", follow=True).status_code == 403
