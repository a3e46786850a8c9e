"""Teams, memberships (the role enum) and the audit log."""
from django.conf import settings
from django.db import models


class Team(models.Model):
    """An application team: owns recipes, builds and images."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    webhook_url = models.URLField(blank=True, help_text="Receives a JSON POST when a published image turns non-compliant")
    alert_email = models.EmailField(blank=True, help_text="Receives the same alerts by e-mail")
    script_network = models.BooleanField(
        default=False, help_text="Granted by platform admins: the team's .paas scripts run with network access (off: no network)")

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
