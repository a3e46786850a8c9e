"""What a recipe's page (and the list of images) tells its team about the catalog moving on: a component version that is
older than the component's latest published one, deprecated (with its replacement and sunset
date) or retired (the recipe cannot be built until it is edited)."""
from dataclasses import dataclass

from builds.models import RecipeComponent
from catalog.models import ComponentVersion, Lifecycle


@dataclass(frozen=True)
class VersionNotice:
    component: object
    version: ComponentVersion  # what the recipe uses
    latest: ComponentVersion | None  # the component's latest published version
    kind: str  # "newer", "deprecated", "retired"

    @property
    def move_to(self) -> ComponentVersion | None:
        """Where the recipe should go: the deprecation's replacement, else the latest published."""
        return self.version.replacement or self.latest


def version_notices(recipes) -> dict[int, list[VersionNotice]]:
    """recipe id -> one notice per component of the recipe that has moved on (no entry for an
    up-to-date recipe); two queries whatever the number of recipes, so lists can show it too."""
    choices = list(RecipeComponent.objects.filter(recipe__in=[r.pk for r in recipes])
                   .select_related("version__component", "version__replacement").order_by("recipe_id", "pk"))
    latest = {}
    for version in (ComponentVersion.objects.filter(component__in={c.version.component_id for c in choices},
                                                    lifecycle=Lifecycle.PUBLISHED).order_by("component_id", "-created")):
        latest.setdefault(version.component_id, version)
    notices: dict[int, list[VersionNotice]] = {}
    for choice in choices:
        version, newest = choice.version, latest.get(choice.version.component_id)
        if version.lifecycle in (Lifecycle.DEPRECATED, Lifecycle.RETIRED):
            notices.setdefault(choice.recipe_id, []).append(VersionNotice(version.component, version, newest, version.lifecycle))
        elif newest is not None and newest.pk != version.pk and newest.created > version.created:
            notices.setdefault(choice.recipe_id, []).append(VersionNotice(version.component, version, newest, "newer"))
    return notices


def recipe_version_notices(recipe) -> list[VersionNotice]:
    return version_notices([recipe]).get(recipe.pk, [])
