"""What the catalog moving on means for a recipe: a component version older than the component's
latest published one, or a version or base image that is deprecated (with its replacement and
sunset date) or retired (the recipe cannot be built until it is edited).

The recipe pages and the list of images show these for saved recipes (`version_notices`); the
builder and the API warn with the deprecated ones while a recipe is composed
(`composition_warnings`): a warning, not an error, as a deprecated one builds until it is retired."""
import datetime
from dataclasses import dataclass

from builds.models import RecipeComponent
from catalog.models import BaseImage, ComponentVersion, Lifecycle


@dataclass(frozen=True)
class LifecycleNotice:
    about: str  # "component", "base", "build_base"
    slug: str  # the component's or the base's
    subject: str  # as sentences name it: "Non-root runtime user 1", "Base image BusyBox"
    kind: str  # "newer", "deprecated", "retired"
    version: str = ""  # the component's version the recipe uses ("" for a base)
    replacement: str = ""  # the deprecation's replacement (a version, a base's name)
    replacement_slug: str = ""  # the replacement as the API names it (a version, a base's slug)
    sunset_date: datetime.date | None = None
    latest: str = ""  # the component's latest published version

    @property
    def move_to(self) -> str:
        """Where the recipe should go: the deprecation's replacement, else the latest published."""
        return self.replacement or self.latest

    @property
    def message(self) -> str:
        if self.kind == "newer":
            return f"{self.subject} has a newer version available: {self.latest}."
        if self.kind == "retired":
            advice = f"move to {self.move_to}" if self.move_to else "choose another one"
            return f"{self.subject} is retired and can no longer be built: {advice}."
        text = f"{self.subject} is deprecated"
        text += f": use {self.replacement} instead" if self.replacement else ""
        if self.sunset_date:
            text += f"; sunset {self.sunset_date:%Y-%m-%d}, after which it may be retired and no longer build"
        return text + "."


def version_notice(version: ComponentVersion, latest: ComponentVersion | None = None) -> LifecycleNotice | None:
    """The notice a recipe using `version` gets (None when it is up to date)."""
    component = version.component
    common = {"about": "component", "slug": component.slug, "subject": f"{component.name} {version.version}",
              "version": version.version, "latest": latest.version if latest else ""}
    if version.lifecycle in (Lifecycle.DEPRECATED, Lifecycle.RETIRED):
        replacement = version.replacement.version if version.replacement_id else ""
        return LifecycleNotice(**common, kind=version.lifecycle, replacement=replacement, replacement_slug=replacement,
                               sunset_date=version.sunset_date)
    if latest is not None and latest.pk != version.pk and latest.created > version.created:
        return LifecycleNotice(**common, kind="newer")
    return None


def base_notice(base: BaseImage, about: str = "base") -> LifecycleNotice | None:
    """The notice a recipe starting FROM `base` (or building on it: about "build_base") gets."""
    if base.lifecycle not in (Lifecycle.DEPRECATED, Lifecycle.RETIRED):
        return None
    what = "Build-stage base" if about == "build_base" else "Base image"
    replacement = base.replacement if base.replacement_id else None
    return LifecycleNotice(about=about, slug=base.slug, subject=f"{what} {base.name}", kind=base.lifecycle,
                           replacement=replacement.name if replacement else "",
                           replacement_slug=replacement.slug if replacement else "", sunset_date=base.sunset_date)


def _latest_published(component_ids) -> dict[int, ComponentVersion]:
    latest = {}
    published = ComponentVersion.objects.filter(component__in=component_ids, lifecycle=Lifecycle.PUBLISHED)
    for version in published.order_by("component_id", "-created"):
        latest.setdefault(version.component_id, version)
    return latest


def version_notices(recipes) -> dict[int, list[LifecycleNotice]]:
    """recipe id -> one notice per base or component of the recipe that has moved on (no entry
    for an up-to-date recipe); three queries whatever the number of recipes, so lists show it too."""
    base_ids = {r.base_id for r in recipes} | {r.build_base_id for r in recipes if r.build_base_id}
    bases = BaseImage.objects.filter(pk__in=base_ids).select_related("replacement").in_bulk()
    choices = list(RecipeComponent.objects.filter(recipe__in=[r.pk for r in recipes])
                   .select_related("version__component", "version__replacement").order_by("recipe_id", "pk"))
    latest = _latest_published({c.version.component_id for c in choices})
    notices: dict[int, list[LifecycleNotice]] = {}
    for recipe in recipes:
        on_bases = [base_notice(bases[recipe.base_id])]
        if recipe.build_base_id and recipe.build_base_id != recipe.base_id:
            on_bases.append(base_notice(bases[recipe.build_base_id], about="build_base"))
        notices[recipe.pk] = [n for n in on_bases if n]
    for choice in choices:
        if notice := version_notice(choice.version, latest.get(choice.version.component_id)):
            notices[choice.recipe_id].append(notice)
    return {pk: found for pk, found in notices.items() if found}


def recipe_version_notices(recipe) -> list[LifecycleNotice]:
    return version_notices([recipe]).get(recipe.pk, [])


def composition_warnings(*, base: BaseImage | None, versions) -> list[LifecycleNotice]:
    """The deprecated base and component versions a recipe being composed uses (retired ones are
    refused by the composition itself, with their own message)."""
    found = [base_notice(base)] if base is not None else []
    found += [version_notice(version) for version in versions if version.lifecycle == Lifecycle.DEPRECATED]
    return [n for n in found if n is not None and n.kind == Lifecycle.DEPRECATED]
