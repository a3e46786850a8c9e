from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    name = "portal"
    default = True


class PortalAdminConfig(admin_apps.AdminConfig):
    """The Django admin is the catalog curation UI for now; platform admins may use it."""

    default = False
    default_site = "portal.admin_site.PortalAdminSite"
