"""Catalog curation pages for platform admins, outside the Django admin: the list of base images and
components with their versions and lifecycle; a component's page (versions, parameter schemas,
dependencies, who uses it) and a base's. The lifecycle moves they offer are confirmed on a page that
states their impact (curation.lifecycle_views). "Used by": curation.rebuild_plans.rebuild_plan."""
from django.db.models import Count
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from catalog.models import BaseImage, Component, Lifecycle
from catalog.selectors import selectable_bases
from curation.entries import base_repin_problem
from curation.lifecycle import TRANSITIONS, catalog_curator_required
from curation.rebuild_plans import RebuildSubject, rebuild_plan


@require_GET
def catalog_list(request):
    catalog_curator_required(request.user)
    bases = BaseImage.objects.exclude(proposal_state="pending").annotate(recipe_count=Count("recipes", distinct=True))
    components = Component.objects.prefetch_related("versions").annotate(
        recipe_count=Count("versions__recipe_choices__recipe", distinct=True))
    return render(request, "curation/catalog_list.html", {"bases": bases, "components": components})


def _needed_by(component: Component) -> list[Component]:
    """Components whose latest usable version requires this one (the builder adds it for them)."""
    found = []
    for other in Component.objects.exclude(pk=component.pk).prefetch_related("versions"):
        latest = next((v for v in other.versions.all() if v.usable), None)
        if latest is not None and component.slug in latest.requires:
            found.append(other)
    return found


SPEC_SHOWN = ("name", "label", "type", "default", "help")


def _parameter_row(spec: dict) -> dict:
    """A parameter spec as the page reads it: its name, label, type, default, help, and the rest
    of its rules (min, max, choices, pattern...) as "key: value" text."""
    rules = [f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
             for key, value in spec.items() if key not in SPEC_SHOWN]
    return {**{key: spec.get(key, "") for key in SPEC_SHOWN}, "rules": rules}


@require_GET
def catalog_component(request, slug):
    catalog_curator_required(request.user)
    component = get_object_or_404(Component, slug=slug)
    versions = list(component.versions.select_related("replacement").annotate(
        recipe_count=Count("recipe_choices", distinct=True)))
    requires = {s: Component.objects.filter(slug=s).first() for v in versions for s in v.requires}
    for version in versions:
        version.moves = TRANSITIONS[version.lifecycle]
        version.required_components = [(s, requires.get(s)) for s in version.requires]
        version.parameter_rows = [_parameter_row(spec) for spec in version.parameters]
    published = [v for v in versions if v.lifecycle == Lifecycle.PUBLISHED]
    for version in versions:  # the replacements its deprecation may name
        version.offered = [(other.pk, other.version) for other in published if other.pk != version.pk]
    return render(request, "curation/catalog_component.html", {
        "component": component, "versions": versions, "needed_by": _needed_by(component),
        "plan": rebuild_plan(user=request.user, subject=RebuildSubject(component=component)),
        "latest": component.latest_version()})


@require_GET
def catalog_base(request, slug):
    catalog_curator_required(request.user)
    base = get_object_or_404(BaseImage.objects.select_related("replacement"), slug=slug)
    # A proposal is decided by its review (approve or reject), not moved through the lifecycle.
    moves = () if base.pending else TRANSITIONS[base.lifecycle]
    return render(request, "curation/catalog_base.html", {
        "base": base, "moves": moves, "repinnable": not base_repin_problem(base),
        "offered": [(other.pk, other.name) for other in selectable_bases().exclude(pk=base.pk)],
        "plan": rebuild_plan(user=request.user, subject=RebuildSubject(base=base))})
