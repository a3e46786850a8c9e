from django.contrib import admin

from portal.admin_site import AuditedAdmin, PlatformAdminOnly

from catalog.models import BaseImage, Component, ComponentVersion


@admin.register(BaseImage)
class BaseImageAdmin(AuditedAdmin, PlatformAdminOnly, admin.ModelAdmin):
    list_display = ["slug", "name", "repository", "tag", "os_family", "approved", "lifecycle", "digest"]
    list_filter = ["approved", "lifecycle", "os_family"]


class ComponentVersionInline(PlatformAdminOnly, admin.TabularInline):
    model = ComponentVersion
    extra = 0
    fields = ["version", "lifecycle", "os_families", "created"]
    readonly_fields = ["version", "os_families", "created"]
    show_change_link = True


@admin.register(Component)
class ComponentAdmin(AuditedAdmin, PlatformAdminOnly, admin.ModelAdmin):
    list_display = ["slug", "name", "kind", "order_weight"]
    list_filter = ["kind"]
    inlines = [ComponentVersionInline]


@admin.register(ComponentVersion)
class ComponentVersionAdmin(AuditedAdmin, PlatformAdminOnly, admin.ModelAdmin):
    list_display = ["component", "version", "lifecycle", "created"]
    list_filter = ["lifecycle", "component"]

    def get_readonly_fields(self, request, obj=None):
        # Immutable once saved: only the lifecycle may move.
        if obj is None:
            return []
        return [f.name for f in self.model._meta.fields if f.name not in ComponentVersion.MUTABLE_FIELDS]
