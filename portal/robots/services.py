"""Writes of robot accounts. Pages, the API and the token endpoint all go through these."""
import datetime
import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.audit import audit_record
from portal.models import RobotAccount, Team
from portal.rbac import is_platform_admin, require_team_member

ROBOT_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# robot+<team>+<name>: neither a team slug nor a robot name can hold '+', so the login parses one way.
LOGIN = re.compile(r"robot\+(?P<team>[^+]+)\+(?P<name>[^+]+)")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return "pr_" + secrets.token_urlsafe(32)


def robot_expiry_check(expires_at) -> datetime.datetime:
    """An expiry in the future and within ROBOT_MAX_DAYS; ValidationError otherwise."""
    now = timezone.now()
    if expires_at is None:
        return now + datetime.timedelta(days=settings.ROBOT_DEFAULT_DAYS)
    if expires_at <= now:
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if expires_at > now + datetime.timedelta(days=settings.ROBOT_MAX_DAYS):
        raise ValidationError({"expires_at": f"A robot expires within {settings.ROBOT_MAX_DAYS} days; rotate it to extend."})
    return expires_at


@transaction.atomic
def robot_create(*, user, team: Team, name: str, expires_at=None) -> tuple[RobotAccount, str]:
    """A new robot of `team` and its secret, which is shown this once and never again."""
    require_team_member(user, team)
    if not ROBOT_NAME.fullmatch(name or "") or len(name) > 40:
        raise ValidationError({"name": "Use lower-case letters, digits and single '-' (at most 40), e.g. prod-cluster."})
    if RobotAccount.objects.filter(team=team, name=name).exists():
        raise ValidationError({"name": f"Team {team.name} already has a robot named {name}."})
    secret = _new_secret()
    robot = RobotAccount.objects.create(team=team, name=name, secret_sha256=_digest(secret), created_by=user,
                                        expires_at=robot_expiry_check(expires_at))
    audit_record(actor=user, action="robot.created", target=robot, team=team, expires_at=robot.expires_at.isoformat())
    return robot, secret


@transaction.atomic
def robot_rotate(*, user, robot: RobotAccount, expires_at=None) -> str:
    """A new secret (the old one stops working at once) and, optionally, a new expiry."""
    require_team_member(user, robot.team)
    robot = RobotAccount.objects.select_for_update().get(pk=robot.pk)
    if robot.revoked_at is not None:
        raise ValidationError({"robot": "A revoked robot stays revoked; create a new one."})
    secret = _new_secret()
    robot.secret_sha256, robot.rotated = _digest(secret), timezone.now()
    robot.expires_at = robot_expiry_check(expires_at)
    robot.save(update_fields=["secret_sha256", "rotated", "expires_at"])
    audit_record(actor=user, action="robot.rotated", target=robot, team=robot.team, expires_at=robot.expires_at.isoformat())
    return secret


def robot_revoke(*, user, robot: RobotAccount) -> RobotAccount:
    require_team_member(user, robot.team)
    if robot.revoked_at is None:
        robot.revoked_at = timezone.now()
        robot.save(update_fields=["revoked_at"])
        audit_record(actor=user, action="robot.revoked", target=robot, team=robot.team)
    return robot


def robot_authenticate(login: str, secret: str) -> RobotAccount | None:
    """The robot whose login and secret these are, if it is neither expired nor revoked."""
    match = LOGIN.fullmatch(login or "")
    if match is None:
        return None
    robot = RobotAccount.objects.select_related("team").filter(team__slug=match["team"], name=match["name"]).first()
    if robot is None or not hmac.compare_digest(robot.secret_sha256, _digest(secret or "")):
        return None
    if robot.revoked_at is not None or robot.expires_at <= timezone.now():
        return None
    RobotAccount.objects.filter(pk=robot.pk).update(last_used=timezone.now())
    return robot


def robots_visible_to(user):
    """Robots of the teams the user belongs to (platform admins: all)."""
    robots = RobotAccount.objects.select_related("team")
    return robots if is_platform_admin(user) else robots.filter(team__memberships__user=user)
