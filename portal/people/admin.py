"""Users in the Django admin: read, and their name and e-mail edited (audited). What the people
services own (activation, global roles, superuser and staff flags, passwords, new users, deletion)
is not editable here: the People page does it, keeping the last platform admin and writing the
audit log, and a reset there gives a one-time password the user must replace."""
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from portal.admin_site import AuditedAdmin, PlatformAdminOnly, ReadOnlyForPlatformAdmins
from portal.models import GlobalRole, Membership

User = get_user_model()


class GlobalRoleInline(ReadOnlyForPlatformAdmins, admin.TabularInline):
    model = GlobalRole
    extra = 0


class UserMembershipInline(ReadOnlyForPlatformAdmins, admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    verbose_name_plural = "Teams (changed on each team's page)"


def _people_page(user) -> str:
    return f"{reverse('people-list')}#person-{user.pk}"


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(AuditedAdmin, PlatformAdminOnly, UserAdmin):
    audit_prefix = "portal"
    list_display = ["username", "email", "first_name", "last_name", "is_active", "is_superuser", "last_login"]
    list_filter = ["is_active", "is_superuser"]
    owned_by_services = ["username", "is_active", "is_staff", "is_superuser", "last_login", "date_joined"]
    readonly_fields = ["people_page", *owned_by_services]
    fieldsets = (
        (None, {"fields": ("username", "people_page")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("State and roles (People page)", {"fields": ("is_active", "is_superuser", "is_staff")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    inlines = [GlobalRoleInline, UserMembershipInline]

    @admin.display(description="Roles, activation, password")
    def people_page(self, user):
        return format_html('<a href="{}">Grant or revoke roles, deactivate, reset the password on the People page</a>',
                           _people_page(user))

    def has_add_permission(self, request, *args):
        return False  # the People page creates users, with a one-time password

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate on the People page: history and memberships stay

    def user_change_password(self, request, id, form_url=""):
        """An admin never types someone's password: the People page resets it to a one-time
        password the user must replace."""
        user = self.get_object(request, id)
        messages.info(request, "Reset passwords on the People page: the user gets a one-time password and must choose their own.")
        return redirect(_people_page(user) if user else reverse("people-list"))
