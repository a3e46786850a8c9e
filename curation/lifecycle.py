"""The lifecycle of component versions and base images, moved only here (pages, API and the
Django admin's readers all come here; the admin does not edit the field): draft -> published ->
deprecated (with a replacement or a sunset date, or both) -> retired, and back from deprecated
to published when a deprecation was a mistake.

A retired version or base is refused wherever a recipe is composed (builds.compose.snapshot),
so a recipe still using one cannot be built: retiring is allowed only once nobody is caught by
it unwarned, after the sunset date or when no recipe uses it. Only platform admins move them;
each move is audited.

The rules are the same for both; what differs (who uses one, what may replace it, how the audit
names it) is a small `_Kind` each.
"""
import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from builds.models import Recipe
from catalog.models import BaseImage, ComponentVersion, Lifecycle
from portal.audit import audit_record
from portal.rbac import is_platform_admin

# Which states a version or base may move to from each state.
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


def moves_from(state: str) -> str:
    """The moves allowed from `state`, as the refusals say them."""
    return " or ".join(TRANSITIONS.get(state, ())) or "nothing: retired is final"


class _Kind:
    """What differs between the things that move through the lifecycle."""

    noun = ""  # as messages name the kind: "version", "base image"
    model = None

    def recipes_using(self, item):
        raise NotImplementedError

    def move_error(self, item) -> str:
        """Why `item` may not move at all ("" when it may)."""
        return ""

    def replacement_error(self, item, replacement) -> str:
        """Why `replacement` may not replace `item` ("" when it may)."""
        raise NotImplementedError

    def audit(self, *, user, item, before: str) -> None:
        raise NotImplementedError

    def locked(self, item):
        return self.model.objects.select_for_update().get(pk=item.pk)


class _VersionKind(_Kind):
    noun = "version"
    model = ComponentVersion

    def recipes_using(self, version):
        return Recipe.objects.filter(choices__version=version).distinct()

    def replacement_error(self, version, replacement) -> str:
        if replacement.component_id != version.component_id:
            return f"The replacement must be a version of {version.component.name}."
        if replacement.pk == version.pk:
            return "A version cannot replace itself: choose a newer one."
        if replacement.lifecycle != Lifecycle.PUBLISHED:
            state = replacement.get_lifecycle_display().lower()
            return (f"The replacement {replacement.version} is {state}; "
                    "recipes can only move to a published version.")
        return ""

    def audit(self, *, user, item, before):
        replacement = item.replacement.version if item.replacement else None
        audit_record(actor=user, action=f"catalog.version.{item.lifecycle}", target=item,
                     component=item.component.slug, version=item.version, **_audit_data(self, item, before),
                     replacement=replacement)


class _BaseKind(_Kind):
    noun = "base image"
    model = BaseImage

    def recipes_using(self, base):
        # A recipe building its package on the base (the build stage) needs it as much.
        return Recipe.objects.filter(Q(base=base) | Q(build_base=base)).distinct()

    def move_error(self, base) -> str:
        if base.pending:
            return f"{base.name} is a proposal waiting for review: approve or reject it first."
        return ""

    def replacement_error(self, base, replacement) -> str:
        if replacement.pk == base.pk:
            return "A base image cannot replace itself: choose another one."
        if not replacement.selectable:
            return (f"The replacement {replacement.name} is not an approved, published base; "
                    "recipes can only move to one teams may choose.")
        return ""

    def audit(self, *, user, item, before):
        replacement = item.replacement.slug if item.replacement else None
        audit_record(actor=user, action=f"catalog.base.{item.lifecycle}", target=item, base=item.slug,
                     **_audit_data(self, item, before), replacement=replacement)


def _audit_data(kind: _Kind, item, before: str) -> dict:
    sunset = item.sunset_date.isoformat() if item.sunset_date else None
    return {"previous": before, "sunset_date": sunset, "recipes": kind.recipes_using(item).count()}


VERSIONS, BASES = _VersionKind(), _BaseKind()


def recipes_using(item):
    """The recipes a move of `item` (a component version or a base image) affects."""
    return (BASES if isinstance(item, BaseImage) else VERSIONS).recipes_using(item)


def _retire_check(kind: _Kind, item, today: datetime.date) -> None:
    if item.lifecycle == Lifecycle.DRAFT:
        return  # nobody could use a draft
    using = kind.recipes_using(item).count()
    if not using:
        return
    if item.sunset_date is None:
        raise LifecycleError(
            f"{using} recipe(s) still use {item}, and it has no sunset date: set one when you "
            f"deprecate it, or move the recipes to another {kind.noun} first.")
    if item.sunset_date > today:
        raise LifecycleError(
            f"{using} recipe(s) still use {item} and its sunset date ({item.sunset_date:%Y-%m-%d}) "
            "has not passed: retire it after that day, or once no recipe uses it.")


def _deprecate_check(kind: _Kind, item, replacement, sunset_date, today) -> None:
    if replacement is None and sunset_date is None:
        raise LifecycleError(f"Say what recipes should do: give a replacement {kind.noun}, "
                             "a sunset date, or both.")
    if replacement is not None and (problem := kind.replacement_error(item, replacement)):
        raise LifecycleError(problem)
    if sunset_date is not None and sunset_date < today:
        raise LifecycleError(f"The sunset date {sunset_date:%Y-%m-%d} has passed; "
                             "give today or a later day.")


@transaction.atomic
def _transition(kind: _Kind, *, user, item, to: str, replacement=None,
                sunset_date: datetime.date | None = None, today: datetime.date | None = None):
    catalog_curator_required(user)
    today = today or timezone.localdate()
    item = kind.locked(item)
    if problem := kind.move_error(item):
        raise LifecycleError(problem)
    if to not in Lifecycle.values:
        raise LifecycleError(f"Unknown state {to!r}: choose one of {', '.join(Lifecycle.values)}.")
    if to not in TRANSITIONS[item.lifecycle]:
        raise LifecycleError(f"{item} is {item.lifecycle}; it can move to {moves_from(item.lifecycle)}.")
    before = item.lifecycle
    if to == Lifecycle.DEPRECATED:
        _deprecate_check(kind, item, replacement, sunset_date, today)
        item.replacement, item.sunset_date = replacement, sunset_date
    elif to == Lifecycle.PUBLISHED:
        item.replacement, item.sunset_date = None, None
    elif to == Lifecycle.RETIRED:
        _retire_check(kind, item, today)
    item.lifecycle = to
    item.save(update_fields=["lifecycle", "replacement", "sunset_date"])
    kind.audit(user=user, item=item, before=before)
    return item


def version_transition(*, user, version: ComponentVersion, to: str,
                       replacement: ComponentVersion | None = None, sunset_date: datetime.date | None = None,
                       today: datetime.date | None = None) -> ComponentVersion:
    """Move a component version to the state `to` under the rules above (LifecycleError says
    why not). Deprecating needs a replacement or a sunset date; publishing again clears both."""
    return _transition(VERSIONS, user=user, item=version, to=to, replacement=replacement,
                       sunset_date=sunset_date, today=today)


def base_transition(*, user, base: BaseImage, to: str, replacement: BaseImage | None = None,
                    sunset_date: datetime.date | None = None, today: datetime.date | None = None) -> BaseImage:
    """Move a base image as version_transition moves a version, under the same rules."""
    return _transition(BASES, user=user, item=base, to=to, replacement=replacement,
                       sunset_date=sunset_date, today=today)
