from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ComplianceConfig(AppConfig):
    name = "compliance"

    def ready(self):
        # A policy rule changed anywhere (API, admin, shell) re-evaluates the images it concerns.
        # (Models and tasks are imported once the apps are ready.)
        from compliance.models import PolicyRule
        from compliance.tasks import policy_change_dispatch

        def changed(sender, instance, **kwargs):
            if kwargs.get("raw"):  # fixtures being loaded: nothing to re-evaluate yet
                return
            policy_change_dispatch(instance)

        post_save.connect(changed, sender=PolicyRule, dispatch_uid="policy-rule-saved", weak=False)
        post_delete.connect(changed, sender=PolicyRule, dispatch_uid="policy-rule-deleted", weak=False)
