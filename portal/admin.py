from django.contrib import admin

from portal.models import AuditEvent, GlobalRole, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(GlobalRole)
class GlobalRoleAdmin(admin.ModelAdmin):
    list_display = ["user", "kind"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created", "actor", "action", "target_type", "target_id", "team"]
    list_filter = ["action"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
