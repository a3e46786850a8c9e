"""The API tokens page: a new secret shown once, rotate, revoke, others' tokens out of reach."""
import pytest

from portal.accounts.models import ApiToken
from portal.accounts.tokens import token_issue
from tests.portal.accounts.test_tokens import whoami

pytestmark = pytest.mark.django_db
PAGE = "/account/tokens/"


@pytest.fixture
def signed_in(client, member):
    client.force_login(member)
    return client


def test_it_shows_a_new_secret_once(signed_in):
    response = signed_in.post(PAGE, {"name": "laptop"})

    assert response.status_code == 201
    secret = response.context["issued"].secret
    assert secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert whoami(secret).status_code == 200
    again = signed_in.get(PAGE).content.decode()
    assert "laptop" in again and secret not in again and secret[:12] in again


def test_it_explains_a_missing_name(signed_in):
    response = signed_in.post(PAGE, {"name": ""})
    assert response.status_code == 400
    assert "Give the token a name" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_it_rotates_and_revokes_from_the_page(signed_in, member):
    issued = token_issue(user=member, name="ci")

    rotated = signed_in.post(f"{PAGE}{issued.token.pk}/rotate")
    assert rotated.status_code == 201
    new_secret = rotated.context["issued"].secret
    assert "no longer works" in rotated.content.decode()
    assert whoami(issued.secret).status_code == 401 and whoami(new_secret).status_code == 200

    new = rotated.context["issued"].token
    revoked = signed_in.post(f"{PAGE}{new.pk}/revoke", follow=True)
    assert revoked.status_code == 200 and "Revoked token" in revoked.content.decode()
    assert whoami(new_secret).status_code == 401


def test_it_refuses_to_rotate_a_revoked_token_with_the_reason(signed_in, member):
    token = token_issue(user=member, name="ci").token
    signed_in.post(f"{PAGE}{token.pk}/revoke")
    response = signed_in.post(f"{PAGE}{token.pk}/rotate")
    assert response.status_code == 400 and "cannot be rotated" in response.content.decode()


def test_someone_elses_token_is_not_found(client, member, outsider):
    theirs = token_issue(user=member, name="ci")
    client.force_login(outsider)
    assert client.post(f"{PAGE}{theirs.token.pk}/revoke").status_code == 404
    assert client.post(f"{PAGE}{theirs.token.pk}/rotate").status_code == 404
    assert list(client.get(PAGE).context["tokens"]) == []
    assert whoami(theirs.secret).status_code == 200
