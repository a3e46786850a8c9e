"""The lifecycle of a component version, moved only here (pages, API and the Django admin's readers
all come here; the admin no longer edits the field): draft -> published -> deprecated (with a
replacement version or a sunset date, or both) -> retired, and back from deprecated to published
when a deprecation was a mistake.

A retired version is refused wherever a recipe is composed (builds.compose.snapshot), so a recipe
still using one cannot be built: retiring is allowed only once nobody is caught by it unwarned,
after the sunset date or when no recipe uses the version. Only platform admins move versions;
each move is audited.
"""
import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from catalog.models import ComponentVersion, Lifecycle
from portal.audit import audit_record
from portal.rbac import is_platform_admin

# Which states a version may move to from each state.
TRANSITIONS = {
    Lifecycle.DRAFT: (Lifecycle.PUBLISHED, Lifecycle.RETIRED),
    Lifecycle.PUBLISHED: (Lifecycle.DEPRECATED,),
    Lifecycle.DEPRECATED: (Lifecycle.PUBLISHED, Lifecycle.RETIRED),
    Lifecycle.RETIRED: (),
}


class LifecycleError(ValueError):
    """The move is not allowed; the message says why and what would allow it."""


def catalog_curator_required(user) -> None:
    if not is_platform_admin(user):
        raise PermissionDenied("Only platform admins curate the catalog; ask one of them.")


def recipes_using_version(version: ComponentVersion) -> int:
    return version.recipe_choices.count()


def _replacement_check(version: ComponentVersion, replacement: ComponentVersion | None) -> None:
    if replacement is None:
        return
    if replacement.component_id != version.component_id:
        raise LifecycleError(f"The replacement must be a version of {version.component.name}.")
    if replacement.pk == version.pk:
        raise LifecycleError("A version cannot replace itself: choose a newer one.")
    if replacement.lifecycle != Lifecycle.PUBLISHED:
        raise LifecycleError(f"The replacement {replacement.version} is {replacement.get_lifecycle_display().lower()}; "
                             "recipes can only move to a published version.")


def _retire_check(version: ComponentVersion, today: datetime.date) -> None:
    if version.lifecycle == Lifecycle.DRAFT:
        return  # nobody could use a draft
    using = recipes_using_version(version)
    if not using:
        return
    if version.sunset_date is None:
        raise LifecycleError(f"{using} recipe(s) still use {version}, and it has no sunset date: set one when you deprecate "
                             "it, or move the recipes to another version first.")
    if version.sunset_date > today:
        raise LifecycleError(f"{using} recipe(s) still use {version} and its sunset date ({version.sunset_date:%Y-%m-%d}) "
                             "has not passed: retire it after that day, or once no recipe uses it.")


@transaction.atomic
def version_transition(*, user, version: ComponentVersion, to: str, replacement: ComponentVersion | None = None,
                       sunset_date: datetime.date | None = None, today: datetime.date | None = None) -> ComponentVersion:
    """Move `version` to the state `to` under the rules above (LifecycleError says why not).
    Deprecating needs a replacement or a sunset date; publishing again clears both."""
    catalog_curator_required(user)
    today = today or timezone.localdate()
    version = ComponentVersion.objects.select_for_update().select_related("component").get(pk=version.pk)
    if to not in Lifecycle.values:
        raise LifecycleError(f"Unknown state {to!r}: choose one of {', '.join(Lifecycle.values)}.")
    if to not in TRANSITIONS[version.lifecycle]:
        allowed = ", ".join(TRANSITIONS[version.lifecycle]) or "nothing: retired is final"
        raise LifecycleError(f"{version} is {version.lifecycle}; it can move to {allowed}.")
    before = version.lifecycle
    if to == Lifecycle.DEPRECATED:
        if replacement is None and sunset_date is None:
            raise LifecycleError("Say what recipes should do: give a replacement version, a sunset date, or both.")
        _replacement_check(version, replacement)
        if sunset_date is not None and sunset_date < today:
            raise LifecycleError(f"The sunset date {sunset_date:%Y-%m-%d} has passed; give today or a later day.")
        version.replacement, version.sunset_date = replacement, sunset_date
    elif to == Lifecycle.PUBLISHED:
        version.replacement, version.sunset_date = None, None
    elif to == Lifecycle.RETIRED:
        _retire_check(version, today)
    version.lifecycle = to
    version.save(update_fields=["lifecycle", "replacement", "sunset_date"])
    audit_record(actor=user, action=f"catalog.version.{to}", target=version, component=version.component.slug,
                 version=version.version, previous=before, replacement=replacement.version if replacement else None,
                 sunset_date=sunset_date.isoformat() if sunset_date else None, recipes=recipes_using_version(version))
    return version
