"""Policy rules in the admin: platform admins edit them; every change goes to the audit log."""
from django.contrib import admin

from compliance.models import PolicyRule
from portal.admin_site import AuditedAdmin, PlatformAdminOnly


@admin.register(PolicyRule)
class PolicyRuleAdmin(AuditedAdmin, PlatformAdminOnly, admin.ModelAdmin):
    audit_prefix = "policy"
    list_display = ["kind", "scope", "enabled", "action", "params", "updated_by", "updated"]
    list_filter = ["kind", "enabled", "action", ("team", admin.EmptyFieldListFilter)]
    fields = ["team", "kind", "enabled", "action", "params", "note", "updated_by", "updated"]
    readonly_fields = ["updated_by", "updated"]

    @admin.display(description="Applies to", ordering="team__slug")
    def scope(self, rule):
        return f"team {rule.team.slug}" if rule.team_id else "every team (global)"

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user  # params were cleaned by PolicyRule.clean during form validation
        super().save_model(request, obj, form, change)
