"""Platform admins in the admin: the log-in failures (unlock, audited) and successful log-ins, and
every user's API tokens (revoke, audited). Nothing here is added or edited by hand."""
from axes.models import AccessAttempt, AccessLog
from django.contrib import admin, messages

from portal.accounts.lockout import lockout_clear
from portal.accounts.models import ApiToken
from portal.accounts.tokens import token_revoke
from portal.admin_site import ReadOnlyForPlatformAdmins


@admin.register(AccessAttempt)
class LoginFailureAdmin(ReadOnlyForPlatformAdmins, admin.ModelAdmin):
    """axes's failure records, one per user name, address and browser."""

    list_display = ["username", "ip_address", "failures_since_start", "attempt_time", "path_info", "user_agent"]
    search_fields = ["username", "ip_address"]
    fields = ["username", "ip_address", "failures_since_start", "attempt_time", "path_info", "user_agent"]
    actions = ["unlock_usernames", "unlock_addresses"]

    def _unlock(self, request, queryset, field: str):
        values = sorted({getattr(row, field) for row in queryset if getattr(row, field)})
        for value in values:
            lockout_clear(actor=request.user, **{field: value})
        self.message_user(request, f"Unlocked {', '.join(values) or 'nothing'}.", messages.SUCCESS)

    # Actions are shown when the user may "change"; platform admins may run these without editing rows.
    @admin.action(description="Unlock the selected user names (forget all their failures)", permissions=["view"])
    def unlock_usernames(self, request, queryset):
        self._unlock(request, queryset, "username")

    @admin.action(description="Unlock the selected client addresses (forget all their failures)", permissions=["view"])
    def unlock_addresses(self, request, queryset):
        self._unlock(request, queryset, "ip_address")


@admin.register(AccessLog)
class LoginAdmin(ReadOnlyForPlatformAdmins, admin.ModelAdmin):
    list_display = ["username", "ip_address", "attempt_time", "logout_time", "path_info"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "attempt_time"


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyForPlatformAdmins, admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "state", "created", "expires_at", "last_used_at", "ended_at"]
    list_filter = ["ended_how"]
    search_fields = ["user__username", "name", "prefix"]
    exclude = ["digest"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens", permissions=["view"])
    def revoke(self, request, queryset):
        live = [token for token in queryset.select_related("user") if not token.ended_at]
        for token in live:
            token_revoke(actor=request.user, token=token)
        self.message_user(request, f"Revoked {len(live)} token(s).", messages.SUCCESS)
