"""The admin site for curation: open to platform admins (a portal role), not only to Django staff."""
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from portal.audit import audit_record
from portal.rbac import is_platform_admin


class PortalAdminSite(admin.AdminSite):
    site_header = "Image portal: catalog curation"
    site_title = "Image portal admin"
    index_template = "admin/portal_index.html"  # the builders and queues panel above the models

    def has_permission(self, request):
        return request.user.is_active and is_platform_admin(request.user)

    def login(self, request, extra_context=None):
        if request.user.is_authenticated:
            raise PermissionDenied("Catalog curation is for platform admins. Ask a platform admin for the role.")
        # One login page for the whole portal.
        return redirect(f"/{settings.LOGIN_URL.strip('/')}/?{urlencode({'next': request.get_full_path()})}")


class AuditedAdmin:
    """ModelAdmin mixin: every curation decision made in the admin goes to the audit log."""

    audit_prefix = "catalog"  # actions read "<prefix>.<model>.changed"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        action = f"{obj._meta.model_name}.{'changed' if change else 'created'}"
        audit_record(actor=request.user, action=f"{self.audit_prefix}.{action}", target=obj,
                     fields=sorted(form.changed_data), summary=str(obj))

    def delete_model(self, request, obj):
        audit_record(actor=request.user, action=f"{self.audit_prefix}.{obj._meta.model_name}.deleted", target=obj, summary=str(obj))
        super().delete_model(request, obj)


class PlatformAdminOnly:
    """ModelAdmin mixin: platform admins curate these models without per-model Django permissions."""

    def has_module_permission(self, request):
        return is_platform_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def has_add_permission(self, request, *args):
        return is_platform_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_platform_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_platform_admin(request.user)


class ReadOnlyForPlatformAdmins(PlatformAdminOnly):
    """ModelAdmin mixin for records (the audit log, login attempts, tokens): platform admins read
    them; nobody adds, edits or deletes them in the admin (actions may still act on them)."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
