"""Existing deprecated versions get the replacement their deprecation implied: the component's newest
published version created after them (none when there is none). Published versions stay published:
every version before the lifecycle rules was one teams could pick."""
from django.db import migrations


def replacements_fill(apps, schema_editor):
    ComponentVersion = apps.get_model("catalog", "ComponentVersion")
    for old in ComponentVersion.objects.filter(lifecycle="deprecated", replacement__isnull=True):
        newer = (ComponentVersion.objects.filter(component_id=old.component_id, lifecycle="published", created__gt=old.created)
                 .order_by("-created").first())
        if newer is not None:
            # update(): the historical model has no immutability check, and nothing else changes.
            ComponentVersion.objects.filter(pk=old.pk).update(replacement=newer)


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0004_version_deprecation"),
    ]

    operations = [
        migrations.RunPython(replacements_fill, migrations.RunPython.noop),
    ]
