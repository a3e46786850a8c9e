"""Global rows for the privilege rules, so admins see and edit them like the others: blocking, and
without parameters (what `ruleset.BUILT_IN_KINDS` enforces when a row is missing)."""
from django.db import migrations

KINDS = ["non-root-group", "no-root-accounts", "no-setuid-files", "no-file-capabilities", "no-world-writable",
         "no-onbuild"]
NOTE = "Seeded with the privilege rules: they read the built image (files, accounts, config), not only the Dockerfile."


def seed(apps, schema_editor):
    PolicyRule = apps.get_model("compliance", "PolicyRule")
    for kind in KINDS:
        PolicyRule.objects.get_or_create(team=None, kind=kind, defaults={"params": {}, "action": "block", "note": NOTE})


def unseed(apps, schema_editor):
    apps.get_model("compliance", "PolicyRule").objects.filter(team=None, kind__in=KINDS, note=NOTE).delete()


class Migration(migrations.Migration):
    dependencies = [("compliance", "0010_privilege_rule_kinds")]
    operations = [migrations.RunPython(seed, unseed)]
