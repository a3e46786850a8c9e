"""Rebuilding every recipe that uses a base image or a component, in one action (optionally moving
them to the component's latest version first).

Each rebuild is a normal build through the gate; a recipe that no longer composes (for example
a parameter the new version rejects) is reported, not skipped silently."""
from django.db import transaction

from builds.errors import CompositionError
from builds.models import Recipe, RecipeComponent
from builds.services import build_request
from catalog.models import Component
from portal.audit import audit_record


def recipe_component_upgrade(recipe: Recipe, component: Component) -> bool:
    """Point the recipe at the component's latest published version (values kept)."""
    latest = component.latest_version()
    choice = RecipeComponent.objects.filter(recipe=recipe, version__component=component).first()
    if latest is None or choice is None or choice.version_id == latest.pk:
        return False
    choice.version = latest
    choice.save(update_fields=["version"])
    return True


def recipes_rebuild(*, user, recipes, upgrade: Component | None = None, reason: str = "") -> dict:
    """Request a build of every recipe; returns {"built": [build ids], "failed": {recipe: reason}}.
    Each build says why it was made (`reason`, or the component version it moved to), so its team
    reads more than "requested by admin"."""
    outcome = {"built": [], "failed": {}}
    for recipe in recipes:
        try:
            with transaction.atomic():
                why = reason or "rebuild requested by a platform admin"
                if upgrade is not None and recipe_component_upgrade(recipe, upgrade):
                    why = f"moved to {upgrade.name} {upgrade.latest_version().version} and rebuilt by a platform admin"
                build = build_request(user=user, recipe=recipe, reason=why)
            outcome["built"].append(build.pk)
        except CompositionError as error:
            outcome["failed"][str(recipe)] = str(error)
    audit_record(actor=user, action="catalog.rebuild", target=upgrade or (recipes[0].base if recipes else user),
                 builds=outcome["built"], failed=outcome["failed"])
    return outcome
