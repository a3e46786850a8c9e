"""Store PyPI package names as PEP 503 spells them, as the matcher looks them up: a record naming
`PyYAML` or `jw.util` was stored under that spelling and never matched the installed `pyyaml` or
`jw-util`. `manage.py vulndb_rematch` then matches stored SBOMs again for those records."""
import re

from django.db import migrations

SEPARATORS = re.compile(r"[-_.]+")


def canonical(name):  # compliance.sbom.python.canonical_name, as of this migration
    return SEPARATORS.sub("-", name).lower()


def forwards(apps, schema_editor):
    AffectedPackage = apps.get_model("compliance", "AffectedPackage")
    pending = []
    for row in AffectedPackage.objects.filter(ecosystem__startswith="PyPI").only("id", "name").iterator(chunk_size=5000):
        if canonical(row.name) != row.name:
            row.name = canonical(row.name)
            pending.append(row)
        if len(pending) >= 5000:
            AffectedPackage.objects.bulk_update(pending, ["name"])
            pending = []
    AffectedPackage.objects.bulk_update(pending, ["name"])


class Migration(migrations.Migration):
    dependencies = [("compliance", "0016_scan_cyclonedx")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
