"""Robot accounts through every door: the services, the page and the API. The secret is shown once
(on the answer that made it) and stored only as a hash; only the team's members manage them."""
import datetime
import html

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from portal.models import AuditEvent, RobotAccount
from portal.robots.services import robot_authenticate, robot_create, robot_revoke, robot_rotate
from tests.builds.test_api import api_for

pytestmark = pytest.mark.django_db


def test_a_member_creates_a_robot_whose_secret_is_stored_only_as_a_hash(member, team):
    robot, secret = robot_create(user=member, team=team, name="prod-cluster")
    assert robot.username == "robot+payments+prod-cluster"
    assert secret not in robot.secret_sha256 and len(secret) > 40
    assert robot_authenticate(robot.username, secret) == robot
    assert robot.expires_at > timezone.now() + datetime.timedelta(days=80)
    assert AuditEvent.objects.filter(action="robot.created", target_id=str(robot.pk)).exists()


def test_rotation_kills_the_old_secret_and_revocation_kills_the_robot(member, team):
    robot, old = robot_create(user=member, team=team, name="ci")
    new = robot_rotate(user=member, robot=robot)
    assert robot_authenticate(robot.username, old) is None and robot_authenticate(robot.username, new) is not None
    robot_revoke(user=member, robot=robot)
    assert robot_authenticate(robot.username, new) is None
    with pytest.raises(ValidationError):
        robot_rotate(user=member, robot=RobotAccount.objects.get(pk=robot.pk))
    assert [e.action for e in AuditEvent.objects.filter(target_id=str(robot.pk)).order_by("created")] == [
        "robot.created", "robot.rotated", "robot.revoked"]


@pytest.mark.parametrize("name", ["Prod", "a/b", "robot+x", "", "-x", "x" * 41])
def test_names_that_would_make_a_login_ambiguous_are_refused(member, team, name):
    with pytest.raises(ValidationError):
        robot_create(user=member, team=team, name=name)


def test_expiry_must_be_in_the_future_and_within_the_limit(member, team, settings):
    for when in (timezone.now() - datetime.timedelta(minutes=1), timezone.now() + datetime.timedelta(days=settings.ROBOT_MAX_DAYS + 1)):
        with pytest.raises(ValidationError):
            robot_create(user=member, team=team, name="ci", expires_at=when)
    assert not RobotAccount.objects.exists()


def test_outsiders_and_reviewers_cannot_manage_a_teams_robots(member, outsider, reviewer, team):
    robot, _ = robot_create(user=member, team=team, name="ci")
    for user in (outsider, reviewer):
        with pytest.raises(PermissionDenied):
            robot_create(user=user, team=team, name="theirs")
        with pytest.raises(PermissionDenied):
            robot_rotate(user=user, robot=robot)
        with pytest.raises(PermissionDenied):
            robot_revoke(user=user, robot=robot)


def test_the_page_shows_the_secret_once_with_a_docker_login_line(client, member):
    client.force_login(member)
    created = client.post("/robots", {"team": "payments", "name": "prod-cluster", "expires": ""})
    page = created.content.decode()
    assert created.status_code == 200 and "robot+payments+prod-cluster" in page and "docker login" in page
    robot = RobotAccount.objects.get()
    secret = html.unescape(page.split('id="robot-secret-value">', 1)[1].split("<", 1)[0])
    assert robot_authenticate(robot.username, secret) == robot
    assert secret not in client.get("/robots").content.decode(), "never shown again"
    refused = client.post("/robots", {"team": "payments", "name": "Bad Name", "expires": ""})
    assert refused.status_code == 400 and "lower-case letters" in refused.content.decode()


def test_the_api_creates_rotates_and_revokes_with_the_same_rules(member, outsider):
    api = api_for(member)
    created = api.post("/api/robots/", {"team": "payments", "name": "ci"}, format="json")
    assert created.status_code == 201 and created.json()["secret"]
    robot_id = created.json()["robot"]["id"]
    listed = api.get("/api/robots/").json()["results"]
    assert [r["username"] for r in listed] == ["robot+payments+ci"] and "secret" not in listed[0]
    assert api_for(outsider).post("/api/robots/", {"team": "payments", "name": "x"}, format="json").status_code == 403
    assert api_for(outsider).post(f"/api/robots/{robot_id}/rotate/").status_code == 404
    rotated = api.post(f"/api/robots/{robot_id}/rotate/", {}, format="json")
    assert rotated.status_code == 200 and rotated.json()["secret"] != created.json()["secret"]
    assert api.post(f"/api/robots/{robot_id}/revoke/").json()["state"] == "revoked"
