"""Writes of teams and memberships. The team pages (and any later API) go through these; the Django
admin shows memberships read-only, so no door skips the last-owner rule or the audit log."""
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction

from portal.audit import audit_record
from portal.models import Membership, Team, validate_team_slug
from portal.rbac import is_platform_admin
from portal.teams.webhooks import webhook_address_refusal

# Alerts are POSTed by the portal: other schemes (ftp, which URLField would accept) mean nothing to it.
_WEBHOOK_URL = URLValidator(schemes=["http", "https"], message="Enter a web address starting with https:// or http://.")


def is_team_owner(user, team: Team) -> bool:
    return user.is_authenticated and Membership.objects.filter(user=user, team=team, role=Membership.Role.OWNER).exists()


def can_manage_team(user, team: Team) -> bool:
    """Team owners and platform admins manage a team's members and alert settings."""
    return is_platform_admin(user) or is_team_owner(user, team)


def _require_manager(user, team: Team) -> None:
    if not can_manage_team(user, team):
        raise PermissionDenied(f"Only owners of team {team.name} and platform admins manage it. Ask one of its owners.")


@transaction.atomic
def team_create(*, user, slug: str, name: str) -> Team:
    """A new, empty team; its slug becomes part of registry paths, so it follows the name rule."""
    if not is_platform_admin(user):
        raise PermissionDenied("Only platform admins create teams.")
    slug, name = (slug or "").strip(), (name or "").strip()
    errors = {}
    try:
        validate_team_slug(slug)
    except ValidationError as error:
        errors["slug"] = error.messages
    if "slug" not in errors and Team.objects.filter(slug=slug).exists():
        errors["slug"] = [f"A team with the slug {slug} already exists."]
    if not name:
        errors["name"] = ["Enter the team's name, e.g. Payments."]
    elif len(name) > 100:
        errors["name"] = ["A team's name has at most 100 characters."]
    if errors:
        raise ValidationError(errors)
    team = Team.objects.create(slug=slug, name=name)
    audit_record(actor=user, action="team.created", target=team, team=team, slug=slug, name=name)
    return team


@transaction.atomic
def team_alerts_update(*, user, team: Team, webhook_url: str, alert_email: str) -> Team:
    """Where the team's alerts go: a webhook (http/https) and an e-mail address; empty turns one off."""
    _require_manager(user, team)
    webhook_url, alert_email = (webhook_url or "").strip(), (alert_email or "").strip()
    errors = {}
    if webhook_url:
        try:
            _WEBHOOK_URL(webhook_url)
        except ValidationError:
            errors["webhook_url"] = ["Enter a web address starting with https:// or http://, e.g. https://chat.example.com/hooks/payments."]
        if len(webhook_url) > 200:
            errors["webhook_url"] = ["A webhook address has at most 200 characters."]
        if "webhook_url" not in errors and (refused := webhook_address_refusal(webhook_url)):
            errors["webhook_url"] = [refused]
    if alert_email:
        try:
            validate_email(alert_email)
        except ValidationError:
            errors["alert_email"] = ["Enter an e-mail address, e.g. payments-oncall@example.com."]
    if errors:
        raise ValidationError(errors)
    before = {"webhook_url": team.webhook_url, "alert_email": team.alert_email}
    team.webhook_url, team.alert_email = webhook_url, alert_email
    team.save(update_fields=["webhook_url", "alert_email"])
    changed = sorted(key for key, value in before.items() if getattr(team, key) != value)
    if changed:
        audit_record(actor=user, action="team.alerts_changed", target=team, team=team, fields=changed)
    return team


def _role_check(role: str) -> str:
    if role not in Membership.Role.values:
        raise ValidationError({"role": ["Choose a role: member or owner."]})
    return role


@transaction.atomic
def membership_add(*, user, team: Team, username: str, role: str = Membership.Role.MEMBER) -> Membership:
    """Add an existing, active user to the team by user name."""
    _require_manager(user, team)
    _role_check(role)
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": ["Enter the user name of the person to add."]})
    person = get_user_model().objects.filter(username=username, is_active=True).first()
    if person is None:
        raise ValidationError({"username": [f"No active user is named {username}. A platform admin creates users on the People page."]})
    if Membership.objects.filter(user=person, team=team).exists():
        raise ValidationError({"username": [f"{username} is already in team {team.name}."]})
    membership = Membership.objects.create(user=person, team=team, role=role)
    audit_record(actor=user, action="team.member_added", target=membership, team=team, username=username, role=role)
    return membership


def _owners_locked(team: Team) -> int:
    """How many owners the team has, with their rows locked so two demotions at once cannot both pass."""
    return len(Membership.objects.select_for_update().filter(team=team, role=Membership.Role.OWNER).values_list("pk", flat=True))


@transaction.atomic
def membership_role_change(*, user, membership: Membership, role: str) -> Membership:
    team = membership.team
    _require_manager(user, team)
    _role_check(role)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    if membership.role == Membership.Role.OWNER and _owners_locked(team) <= 1:
        raise ValidationError({"role": [f"{membership.user.username} is the last owner of {team.name}: make someone else an owner first."]})
    before, membership.role = membership.role, role
    membership.save(update_fields=["role"])
    audit_record(actor=user, action="team.member_role_changed", target=membership, team=team,
                 username=membership.user.username, before=before, role=role)
    return membership


@transaction.atomic
def membership_remove(*, user, membership: Membership) -> None:
    team = membership.team
    _require_manager(user, team)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.role == Membership.Role.OWNER and _owners_locked(team) <= 1:
        raise ValidationError({"member": [f"{membership.user.username} is the last owner of {team.name}: make someone else an owner first."]})
    audit_record(actor=user, action="team.member_removed", target=membership, team=team,
                 username=membership.user.username, role=membership.role)
    membership.delete()
