"""Teams, memberships (the role enum) and the audit log."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from adapters.registry_names import IMAGE_NAME_MAX, TEAM_SLUG_MAX, InvalidName, registry_name_check

# API tokens live in the accounts room; importing them here registers them with the app.
from portal.accounts.models import ApiToken, PasswordChangeRequired  # noqa: F401
from portal.page_cache.models import DataChange, DataVersion  # noqa: F401


def _registry_name_validate(value, *, what: str, max_length: int) -> None:
    try:
        registry_name_check(value, what=what, max_length=max_length)
    except InvalidName as error:
        raise ValidationError(str(error), code="invalid_registry_name")


# Model-field validators (module-level so migrations can name them): forms and the admin show the
# same message as the services.
def validate_team_slug(value) -> None:
    _registry_name_validate(value, what="team slug", max_length=TEAM_SLUG_MAX)


def validate_image_name(value) -> None:
    _registry_name_validate(value, what="image name", max_length=IMAGE_NAME_MAX)


class RegistryNameGuard:
    """The last guard of the name rule for a model whose `registry_name_field` becomes a registry
    path component: a new or changed value is checked on every save, whatever the door (services,
    admin, commands, imports). A value stored before the rule stays as it is (the migration marks
    what depends on it instead), so such a row can still be saved without a rename."""

    registry_name_field = ""
    registry_name_what = ""
    registry_name_max = IMAGE_NAME_MAX

    @classmethod
    def from_db(cls, db, field_names, values):
        row = super().from_db(db, field_names, values)
        row._stored_registry_name = row.__dict__.get(cls.registry_name_field)
        return row

    def save(self, *args, **kwargs):
        value = getattr(self, self.registry_name_field)
        if self._state.adding or value != getattr(self, "_stored_registry_name", None):
            try:
                registry_name_check(value, what=self.registry_name_what, max_length=self.registry_name_max)
            except InvalidName as error:
                raise ValidationError({self.registry_name_field: str(error)})
        super().save(*args, **kwargs)
        self._stored_registry_name = value


class Team(RegistryNameGuard, models.Model):
    """An application team: owns recipes, builds and images."""

    slug = models.CharField(unique=True, max_length=TEAM_SLUG_MAX, validators=[validate_team_slug],
                            help_text="Part of the team's registry paths, e.g. payments")
    name = models.CharField(max_length=100)
    webhook_url = models.URLField(blank=True, help_text="Receives a JSON POST when a published image turns non-compliant")
    alert_email = models.EmailField(blank=True, help_text="Receives the same alerts by e-mail")
    script_network = models.BooleanField(
        default=False, help_text="Granted by platform admins: the team's .paas scripts run with network access (off: no network)")

    registry_name_field, registry_name_what, registry_name_max = "slug", "team slug", TEAM_SLUG_MAX

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user's place in a team. Global roles (platform admin, security reviewer) live on Role."""

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        OWNER = "owner", "Owner"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="one_membership_per_team")]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.role})"


class GlobalRole(models.Model):
    """A portal-wide role: platform admins curate the catalog, security reviewers see all verdicts."""

    class Kind(models.TextChoices):
        PLATFORM_ADMIN = "platform_admin", "Platform admin"
        SECURITY_REVIEWER = "security_reviewer", "Security reviewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="global_roles")
    kind = models.CharField(max_length=30, choices=Kind.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_global_role_each")]

    def __str__(self):
        return f"{self.user}: {self.get_kind_display()}"


class RobotAccount(models.Model):
    """A team's machine account for the registry (`docker login`, a cluster's pull secret): it pulls
    the team's published images and other teams' images their owners made visible, nothing else.
    Its secret is shown once and stored as a SHA-256 (it is random and long, so a slow hash adds
    nothing); it stops working when it expires or is revoked."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="robots")
    name = models.CharField(max_length=40, help_text="e.g. prod-cluster; the login is robot+<team>+<name>")
    secret_sha256 = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    rotated = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_robot_name_per_team")]

    def __str__(self):
        return self.username

    @property
    def username(self) -> str:
        return f"robot+{self.team.slug}+{self.name}"

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "active"


class AuditEvent(models.Model):
    """Who did what to which object. Written by services, never edited."""

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=60, db_index=True)
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=60)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.created:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_type}:{self.target_id}"


class Invitation(models.Model):
    """A platform admin's invitation by e-mail: whoever holds the link picks a user name and a password
    and becomes a user (in `team` with `role`, when one was given). Only the token's SHA-256 is kept;
    the link works once, until `expires_at`, and not after a revocation or a resend."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    email = models.EmailField()
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=20, choices=Membership.Role.choices, blank=True)
    token_sha256 = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    accepted_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["state", "email"], name="invitation_state_email")]

    def __str__(self):
        return f"{self.email} ({self.state})"

    @property
    def overdue(self) -> bool:
        return self.expires_at <= timezone.now()
