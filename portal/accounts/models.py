"""Personal API tokens."""
from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A user's API token. The secret is shown once, when it is made; only its SHA-256 is kept, with
    a short prefix so its owner can tell tokens apart. Expired, rotated and revoked tokens stay (with
    when and why they ended) so a request carrying one is told why it is refused."""

    class Ended(models.TextChoices):
        REVOKED = "revoked", "Revoked"
        ROTATED = "rotated", "Rotated"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=60, help_text="What the token is for, e.g. ci or laptop")
    prefix = models.CharField(max_length=16, help_text="The secret's first characters, to recognise it")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the secret (hex)")
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_how = models.CharField(max_length=10, choices=Ended.choices, blank=True)
    replaced_by = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces")

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "ended_at", "expires_at"], name="apitoken_user_live")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @property
    def state(self) -> str:
        """active, expired, revoked or rotated."""
        if self.ended_at:
            return self.ended_how
        return "expired" if self.expires_at <= timezone.now() else "active"


class PasswordChangeRequired(models.Model):
    """A user whose password someone else set (a platform admin creating the account or resetting
    its password): until they choose their own, every page sends them to the password page and the
    API refuses them. The row is the flag; changing one's own password deletes it."""

    class Reason(models.TextChoices):
        CREATED = "created", "Account created with a one-time password"
        RESET = "reset", "Password reset by a platform admin"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="password_change_required")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.user}: {self.get_reason_display().lower()}"
