from django.contrib import admin

# The accounts room's admin pages register on import (autodiscovery only imports portal.admin).
from portal.accounts import admin as accounts_admin  # noqa: F401
from portal.admin_site import PlatformAdminOnly, ReadOnlyForPlatformAdmins
from portal.models import AuditEvent, GlobalRole, Membership, Team


class MembershipInline(PlatformAdminOnly, admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(Team)
class TeamAdmin(PlatformAdminOnly, admin.ModelAdmin):
    list_display = ["slug", "name", "script_network"]
    inlines = [MembershipInline]


@admin.register(GlobalRole)
class GlobalRoleAdmin(PlatformAdminOnly, admin.ModelAdmin):
    list_display = ["user", "kind"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyForPlatformAdmins, admin.ModelAdmin):
    list_display = ["created", "actor", "action", "target_type", "target_id", "team"]
    list_filter = ["action"]
