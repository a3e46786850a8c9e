"""Popular apt packages get a layer of their own, so recipes that differ elsewhere still share them.

Why: on a Debian base most of a composed build is apt work (about 2.5 s of index update and apt
start-up per transaction, then dpkg), and a layer is only shared by recipes whose layers below it are
identical. With one transaction per recipe, two recipes that both need tzdata but differ in one other
package share nothing. Installing the packages most recipes on the same base need first, one
transaction each in a fixed order, lets every such recipe reuse those layers; the recipe's other
packages follow in one transaction (bench/shared_builds.py measures it against one flat transaction).

Popularity is counted over the portal's own recipes on the same base image, so the order follows what
teams actually tick. A package needs at least MINIMUM_RECIPES recipes to earn a layer, and at most
settings.SHARED_APT_LAYERS packages get one (each extra transaction costs a recipe that has it, on a
cold cache, one more index update). The choice is recorded in the build's snapshot.
"""
from collections import Counter
from collections.abc import Iterable

from django.conf import settings

from builds.compose.apt_merge import apt_merge, package_name
from builds.models import Recipe, RecipeComponent

MINIMUM_RECIPES = 2


def fragment_packages(fragment: str) -> list[str]:
    """Names of the apt packages a catalog fragment installs in the mergeable form (else none).
    Placeholders are left as written: they never stand in a package list the merge accepts."""
    return [package_name(spec) for spec in apt_merge([fragment]).packages]


def popular_packages(recipes_packages: Iterable[Iterable[str]], limit: int,
                     minimum: int = MINIMUM_RECIPES) -> tuple[str, ...]:
    """The packages to install first, most used first (ties by name, so the order is stable).

    recipes_packages: for each recipe, the apt packages its components install."""
    counts = Counter()
    for packages in recipes_packages:
        counts.update(set(packages))
    ranked = sorted((name for name, count in counts.items() if count >= minimum), key=lambda n: (-counts[n], n))
    return tuple(ranked[:max(limit, 0)])


def shared_packages_for(base) -> tuple[str, ...]:
    """popular_packages over every composed recipe on this base image (all teams: they share one engine)."""
    limit = settings.SHARED_APT_LAYERS
    if limit <= 0:
        return ()
    rows = (RecipeComponent.objects.filter(recipe__base=base, recipe__kind=Recipe.Kind.COMPOSED)
            .values_list("recipe_id", "version__fragment"))
    by_recipe: dict[int, set[str]] = {}
    packages_of: dict[str, list[str]] = {}  # fragments repeat across recipes: parse each once
    for recipe_id, fragment in rows.iterator():
        if fragment not in packages_of:
            packages_of[fragment] = fragment_packages(fragment)
        by_recipe.setdefault(recipe_id, set()).update(packages_of[fragment])
    return popular_packages(by_recipe.values(), limit)
