"""The lifecycle moves of the catalog pages, for component versions and base images alike: a
POST without confirm=1 shows the confirmation page (who is affected), with it the move is made.
The rules are curation.lifecycle's; these views only read the form and show the outcome."""
import datetime
from dataclasses import dataclass
from typing import Callable

from django.contrib import messages
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from catalog.models import BaseImage, ComponentVersion, Lifecycle
from catalog.selectors import selectable_bases
from curation.lifecycle import (
    TRANSITIONS,
    LifecycleError,
    base_transition,
    catalog_curator_required,
    moves_from,
    recipes_using,
    version_transition,
)

MOVE_VERBS = {Lifecycle.PUBLISHED: "publish", Lifecycle.DEPRECATED: "deprecate", Lifecycle.RETIRED: "retire"}


@dataclass(frozen=True)
class Moving:
    """What the confirmation page moves, and how it names it."""

    item: ComponentVersion | BaseImage
    name: str  # "Non-root runtime user 1", "BusyBox"
    short: str  # what the buttons say: "1", "BusyBox"
    noun: str  # "version of this component", "base image"
    back_url: str  # the page the move is made from
    back_label: str
    action_url: str
    candidates: QuerySet  # what the form's replacement id may name
    alternatives: QuerySet  # the replacements the form offers (published ones)
    label: Callable  # how a replacement is named: a version's number, a base's name
    transition: Callable  # version_transition or base_transition, bound to the item

    def offered(self) -> list[tuple[int, str]]:
        return [(other.pk, self.label(other)) for other in self.alternatives]


def _version_moving(version: ComponentVersion) -> Moving:
    component = version.component
    published = component.versions.filter(lifecycle=Lifecycle.PUBLISHED)
    return Moving(
        item=version, name=f"{component.name} {version.version}", short=version.version,
        noun="version of this component",
        back_url=reverse("catalog-component", args=[component.slug]), back_label=component.name,
        action_url=reverse("component-version-lifecycle", args=[version.pk]),
        candidates=component.versions.all(), alternatives=published.exclude(pk=version.pk),
        label=lambda other: other.version,
        transition=lambda **move: version_transition(version=version, **move))


def _base_moving(base: BaseImage) -> Moving:
    return Moving(
        item=base, name=base.name, short=base.name, noun="base image",
        back_url=reverse("catalog-base", args=[base.slug]), back_label=base.name,
        action_url=reverse("base-lifecycle", args=[base.slug]),
        candidates=BaseImage.objects.all(), alternatives=selectable_bases().exclude(pk=base.pk),
        label=lambda other: other.name,
        transition=lambda **move: base_transition(base=base, **move))


def _move_input(request, moving: Moving):
    """The form's move: `to`, `replacement` (an id among the candidates), `sunset_date`
    (YYYY-MM-DD); a bad value is an error to show, not a 500."""
    errors, state = {}, moving.item.lifecycle
    if request.POST.get("to") not in TRANSITIONS.get(state, ()):
        errors["to"] = [f"{moving.name} is {state}; it can move to {moves_from(state)}."]
    replacement = None
    if given := request.POST.get("replacement"):
        replacement = moving.candidates.filter(pk=given if given.isdigit() else None).first()
        if replacement is None:
            errors["replacement"] = [f"Choose a {moving.noun}."]
    sunset = None
    if request.POST.get("sunset_date"):
        try:
            sunset = datetime.date.fromisoformat(request.POST["sunset_date"])
        except ValueError:
            errors["sunset_date"] = ["Give the day as YYYY-MM-DD."]
    return request.POST.get("to", ""), replacement, sunset, errors


def _move(request, moving: Moving):
    to, replacement, sunset, errors = _move_input(request, moving)
    if not errors and request.POST.get("confirm") == "1":
        try:
            moving.transition(user=request.user, to=to, replacement=replacement, sunset_date=sunset)
        except LifecycleError as error:
            errors["to"] = [str(error)]
        else:
            messages.success(request, f"{moving.name} is now {to}.")
            return redirect(moving.back_url)
    using = list(recipes_using(moving.item).select_related("team").order_by("team__slug", "name"))
    return render(request, "curation/catalog_lifecycle_confirm.html", {
        "moving": moving, "state": moving.item.get_lifecycle_display(), "to": to,
        "verb": MOVE_VERBS.get(to, "move"), "replacement": replacement, "sunset_date": sunset,
        "replacement_label": moving.label(replacement) if replacement else "", "offered": moving.offered(),
        "errors": errors, "using": using, "teams": sorted({r.team.slug for r in using})},
        status=400 if errors else 200)


@require_POST
def component_version_lifecycle(request, pk):
    catalog_curator_required(request.user)
    version = get_object_or_404(ComponentVersion.objects.select_related("component"), pk=pk)
    return _move(request, _version_moving(version))


@require_POST
def base_lifecycle(request, slug):
    catalog_curator_required(request.user)
    return _move(request, _base_moving(get_object_or_404(BaseImage, slug=slug)))
