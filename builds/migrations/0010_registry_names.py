"""The name rule (adapters.registry_names): recipe names and team slugs become registry path components.

Rows saved before the rule are neither renamed nor deleted: a recipe whose name, or whose team's
slug, breaks the rule is marked unbuildable with the reason, so its team sees why and creates a
recipe with a valid name (or a platform admin renames the team)."""
import re

from django.db import migrations, models

import portal.models

# Frozen copy of adapters.registry_names.PATH_COMPONENT as it stood when this migration was written.
PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
RULE = "lower-case letters and digits, joined by single '.', '_' or '-'"


def _problem(value: str, what: str, max_length: int) -> str:
    if len(value) > max_length:
        return f"the {what} {value!r} is longer than {max_length} characters"
    if not PATH_COMPONENT.fullmatch(value):
        return f"the {what} {value!r} is not a valid registry name ({RULE})"
    return ""


def mark_invalid_names(apps, schema_editor):
    Recipe = apps.get_model("builds", "Recipe")
    for recipe in Recipe.objects.select_related("team").iterator():
        problems = [p for p in (_problem(recipe.team.slug, "team slug", 50), _problem(recipe.name, "image name", 60)) if p]
        if problems:
            recipe.unbuildable_reason = (
                f"This recipe cannot be built: {'; '.join(problems)}. Nothing was renamed or deleted; "
                "create a recipe with a valid name (a platform admin renames a team).")
            recipe.save(update_fields=["unbuildable_reason"])


class Migration(migrations.Migration):

    dependencies = [
        ('builds', '0009_recipe_runtime_settings'),
        ('portal', '0004_registry_names'),
    ]

    operations = [
        migrations.AddField(
            model_name='recipe',
            name='unbuildable_reason',
            field=models.TextField(blank=True, help_text='Set when the recipe may not be built (e.g. a name from before the name rule); builds are refused'),
        ),
        migrations.AlterField(
            model_name='recipe',
            name='name',
            field=models.CharField(help_text="Image name within the team, e.g. pay-api: part of the image's registry path", max_length=60, validators=[portal.models.validate_image_name]),
        ),
        migrations.RunPython(mark_invalid_names, migrations.RunPython.noop),
    ]
