from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    name = "portal"
    default = True

    def ready(self):
        from django.db.models.signals import post_migrate

        from portal.page_cache.versions import triggers_install

        # After every migrate (once: sent per app, kept to ours), so a new table is watched as soon as it exists.
        post_migrate.connect(triggers_install, sender=self, dispatch_uid="portal-data-version-triggers")


class PortalAdminConfig(admin_apps.AdminConfig):
    """The Django admin is the catalog curation UI for now; platform admins may use it."""

    default = False
    default_site = "portal.admin_site.PortalAdminSite"
