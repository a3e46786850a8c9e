"""Global rule rows equal to the policy as it was hard-coded, so admins see and edit what is
enforced. The threshold takes the POLICY_BLOCK_* settings of the installation being migrated."""
from django.conf import settings
from django.db import migrations

PLAIN = ["approved-base", "non-root-user", "no-secrets-in-env", "no-secrets-in-layers", "dockerfile-lint"]
ORDER = ["Critical", "High", "Medium", "Low", "Negligible", "Unknown"]


def seed(apps, schema_editor):
    PolicyRule = apps.get_model("compliance", "PolicyRule")
    severities = [s for s in ORDER if s in set(settings.POLICY_BLOCK_SEVERITIES)] or ["Critical", "High"]
    rows = {kind: {} for kind in PLAIN}
    rows["vulnerability-threshold"] = {"severities": severities, "fixable_only": bool(settings.POLICY_BLOCK_FIXABLE_ONLY)}
    for kind, params in rows.items():
        PolicyRule.objects.get_or_create(team=None, kind=kind, defaults={
            "params": params, "note": "Seeded from the policy as it was before rules became data."})


def unseed(apps, schema_editor):
    apps.get_model("compliance", "PolicyRule").objects.filter(
        team=None, note="Seeded from the policy as it was before rules became data.").delete()


class Migration(migrations.Migration):
    dependencies = [("compliance", "0007_policy_rules_as_data")]
    operations = [migrations.RunPython(seed, unseed)]
