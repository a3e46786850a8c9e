from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save, pre_save


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
        self._watch_approved_bases()

        from compliance.metrics import ComplianceCollector
        from portal.ops.metrics import collector_register

        collector_register(ComplianceCollector())  # /metrics: scans, gate outcomes, vulnerability data age

    @staticmethod
    def _watch_approved_bases():
        """A base approved, withdrawn or re-pinned anywhere (curation pages, admin, starter catalog,
        shell) re-evaluates every current verdict; a save that leaves what the rules read as it was
        (a name, a description) does not."""
        from catalog.models import BaseImage
        from compliance.tasks import approved_bases_change_dispatch

        def as_rules_read(base):
            return (base.repository, base.digest, tuple(base.layer_digests or ())) if base.approved and base.digest else None

        def before(sender, instance, **kwargs):
            old = sender.objects.filter(pk=instance.pk).first() if instance.pk else None
            instance._approved_as_read = as_rules_read(old) if old is not None else None

        def after(sender, instance, **kwargs):
            if not kwargs.get("raw") and as_rules_read(instance) != getattr(instance, "_approved_as_read", None):
                approved_bases_change_dispatch()

        def deleted(sender, instance, **kwargs):
            if as_rules_read(instance) is not None:
                approved_bases_change_dispatch()

        pre_save.connect(before, sender=BaseImage, dispatch_uid="base-image-before-save", weak=False)
        post_save.connect(after, sender=BaseImage, dispatch_uid="base-image-saved", weak=False)
        post_delete.connect(deleted, sender=BaseImage, dispatch_uid="base-image-deleted", weak=False)
