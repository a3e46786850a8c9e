"""Policy rules in the admin: platform admins edit them; every change goes to the audit log."""
from django.contrib import admin

from compliance.models import PolicyRule
from portal.admin_site import AuditedAdmin, PlatformAdminOnly

PARAMS_HELP = (
    "A row without a team is the global rule of its kind; a team's row replaces it for that team. Disable a rule "
    "to turn it off (deleting a global row brings back the built-in default). Parameters by kind: "
    "vulnerability-threshold {\"severities\": [\"Critical\", \"High\"], \"fixable_only\": true}; "
    "banned-packages {\"packages\": [{\"name\": \"telnet\"}, {\"name\": \"requests\", \"ecosystem\": \"PyPI\", "
    "\"version\": \"<2.0\"}]} (ecosystems Debian, Alpine, PyPI, Maven, npm); runtime-privileges "
    "{\"allow_privileged\": false, \"allowed_capabilities\": [\"NET_BIND_SERVICE\"]}; every other kind {}.")


@admin.register(PolicyRule)
class PolicyRuleAdmin(AuditedAdmin, PlatformAdminOnly, admin.ModelAdmin):
    audit_prefix = "policy"
    list_display = ["kind", "scope", "enabled", "action", "params", "updated_by", "updated"]
    list_filter = ["kind", "enabled", "action", ("team", admin.EmptyFieldListFilter)]
    fieldsets = [(None, {"fields": ["team", "kind", "enabled", "action", "params", "note", "updated_by", "updated"],
                         "description": PARAMS_HELP})]
    readonly_fields = ["updated_by", "updated"]

    @admin.display(description="Applies to", ordering="team__slug")
    def scope(self, rule):
        return f"team {rule.team.slug}" if rule.team_id else "every team (global)"

    def delete_queryset(self, request, queryset):
        for rule in queryset:  # the bulk "delete selected" action skips delete_model, and with it the audit
            self.delete_model(request, rule)

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user  # params were cleaned by PolicyRule.clean during form validation
        super().save_model(request, obj, form, change)
