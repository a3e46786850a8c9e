"""The registry's token endpoint: who gets what. People and robots pull only what they may see;
nobody but the portal's own identities pushes or deletes; wrong credentials answer 401."""
import base64
import datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from builds.models import Recipe
from portal.models import RobotAccount
from portal.robots.services import robot_create, robot_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def signing_key(tmp_path, settings):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    settings.REGISTRY_TOKEN_KEY_FILE = str(path)
    return key.public_key()


def ask(client, credentials=None, *scopes, service="portal-registry"):
    headers = {}
    if credentials:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
    return client.get("/registry/token", {"service": service, "scope": list(scopes)}, **headers)


def granted(response, public_key) -> dict:
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["token"], public_key, algorithms=["ES256"], audience="portal-registry")
    return {entry["name"]: entry["actions"] for entry in claims["access"]}


@pytest.fixture
def robot(member, team):
    return robot_create(user=member, team=team, name="prod-cluster")


def test_a_robot_pulls_its_teams_published_images_and_nothing_else(client, signing_key, robot):
    account, secret = robot
    answer = ask(client, (account.username, secret), "repository:published/payments/pay-api:pull,push,delete",
                 "repository:published/search/other:pull", "repository:quarantine/payments/pay-api:pull",
                 "repository:base/debian:pull")
    assert granted(answer, signing_key) == {"published/payments/pay-api": ["pull"]}
    assert RobotAccount.objects.get(pk=account.pk).last_used is not None, "the team sees when a robot was last used"


def test_a_robot_pulls_another_teams_image_only_once_its_owners_made_it_visible(client, signing_key, outsider, other_team,
                                                                                 recipe):
    account, secret = robot_create(user=outsider, team=other_team, name="ci")
    scope = "repository:published/payments/pay-api:pull"
    assert granted(ask(client, (account.username, secret), scope), signing_key) == {}
    Recipe.objects.filter(pk=recipe.pk).update(visible_to_other_teams=True)
    assert granted(ask(client, (account.username, secret), scope), signing_key) == {"published/payments/pay-api": ["pull"]}


@pytest.mark.parametrize("change", ["wrong-secret", "revoked", "expired", "unknown"])
def test_wrong_expired_or_revoked_robot_credentials_answer_401(client, signing_key, robot, member, change):
    account, secret = robot
    login = account.username
    if change == "wrong-secret":
        secret = secret[:-1] + ("x" if secret[-1] != "x" else "y")
    elif change == "revoked":
        robot_revoke(user=member, robot=account)
    elif change == "expired":
        RobotAccount.objects.filter(pk=account.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    else:
        login = "robot+payments+nobody"
    answer = ask(client, (login, secret), "repository:published/payments/pay-api:pull")
    assert answer.status_code == 401 and "WWW-Authenticate" in answer


def test_people_pull_their_teams_images_reviewers_also_quarantine_and_nobody_pushes(client, signing_key, member, reviewer):
    for user in (member, reviewer):
        user.set_password("pw-for-the-registry")
        user.save()
    scopes = ("repository:published/payments/pay-api:pull,push", "repository:quarantine/payments/pay-api:pull,push,delete",
              "repository:published/search/app:pull")
    assert granted(ask(client, ("alice", "pw-for-the-registry"), *scopes), signing_key) == {
        "published/payments/pay-api": ["pull"]}
    assert granted(ask(client, ("rita", "pw-for-the-registry"), *scopes), signing_key) == {
        "published/payments/pay-api": ["pull"], "quarantine/payments/pay-api": ["pull"], "published/search/app": ["pull"]}
    assert ask(client, ("alice", "not-her-password"), *scopes).status_code == 401


def test_anonymous_gets_a_token_that_grants_nothing(client, signing_key, recipe):
    Recipe.objects.filter(pk=recipe.pk).update(visible_to_other_teams=True)
    assert granted(ask(client, None, "repository:published/payments/pay-api:pull"), signing_key) == {}


def test_it_serves_only_its_own_registry_and_says_when_it_cannot_sign(client, signing_key, robot, settings):
    account, secret = robot
    assert ask(client, (account.username, secret), service="someone-elses-registry").status_code == 400
    settings.REGISTRY_TOKEN_KEY_FILE = "/nonexistent/key.pem"
    assert ask(client, (account.username, secret)).status_code == 503
