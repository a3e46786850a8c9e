from django.contrib import admin

# The accounts and people rooms' admin pages register on import (autodiscovery only imports portal.admin).
from portal.accounts import admin as accounts_admin  # noqa: F401
from portal.admin_site import AuditedAdmin, PlatformAdminOnly, ReadOnlyForPlatformAdmins
from portal.models import AuditEvent, GlobalRole, Membership, Team
from portal.people import admin as people_admin  # noqa: F401


# Members, roles and alert settings change on the team and people pages (portal/teams, portal/people),
# whose services keep the last owner and the last platform admin and write the audit log: here they
# are shown, not edited, so the admin is no door around those rules.
class MembershipInline(ReadOnlyForPlatformAdmins, admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Team)
class TeamAdmin(AuditedAdmin, PlatformAdminOnly, admin.ModelAdmin):
    audit_prefix = "portal"
    list_display = ["slug", "name", "script_network"]
    readonly_fields = ["webhook_url", "alert_email"]
    inlines = [MembershipInline]


@admin.register(GlobalRole)
class GlobalRoleAdmin(ReadOnlyForPlatformAdmins, admin.ModelAdmin):
    list_display = ["user", "kind"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyForPlatformAdmins, admin.ModelAdmin):
    list_display = ["created", "actor", "action", "target_type", "target_id", "team"]
    list_filter = ["action"]
