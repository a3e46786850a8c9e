"""The name rule (adapters.registry_names) applied to recipes, for every service that saves or builds one."""
from adapters.registry_names import InvalidName, registry_name_check, team_image_check
from builds.errors import CompositionError
from builds.models import Recipe


def recipe_name_check(*, team, name: str) -> None:
    """The name rule and uniqueness for a new recipe of `team`, as a CompositionError on `name`."""
    try:
        registry_name_check(name, what="image name")
    except InvalidName as error:
        raise CompositionError(str(error), {"name": str(error)})
    if Recipe.objects.filter(team=team, name=name).exists():
        raise CompositionError(f"Team {team.name} already has an image named {name}.", {"name": "taken"})


def recipe_buildable_check(recipe: Recipe) -> None:
    """Refuse to build a recipe marked unbuildable, or whose registry path cannot be spelled
    (rows from before the name rule, or changed behind the services' back)."""
    if recipe.unbuildable_reason:
        raise CompositionError(recipe.unbuildable_reason, {"name": "unbuildable"})
    try:
        team_image_check(recipe.team.slug, recipe.name)
    except InvalidName as error:
        raise CompositionError(f"This recipe cannot be built: {error}", {"name": str(error)})
