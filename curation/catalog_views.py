"""Catalog curation pages for platform admins, outside the Django admin: the list of base images and
components with their versions and lifecycle; a component's page (versions, parameter schemas,
dependencies, who uses it) and a base's; and the lifecycle moves, each confirmed on a page that
states its impact. Rules: curation.lifecycle; "used by": curation.rebuild_plans.rebuild_plan."""
import datetime

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from catalog.models import BaseImage, Component, ComponentVersion, Lifecycle
from curation.lifecycle import TRANSITIONS, LifecycleError, catalog_curator_required, version_transition
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
    return render(request, "curation/catalog_component.html", {
        "component": component, "versions": versions, "needed_by": _needed_by(component),
        "plan": rebuild_plan(user=request.user, subject=RebuildSubject(component=component)),
        "latest": component.latest_version(), "published": published})


@require_GET
def catalog_base(request, slug):
    catalog_curator_required(request.user)
    base = get_object_or_404(BaseImage, slug=slug)
    return render(request, "curation/catalog_base.html", {
        "base": base, "plan": rebuild_plan(user=request.user, subject=RebuildSubject(base=base))})


MOVE_VERBS = {Lifecycle.PUBLISHED: "publish", Lifecycle.DEPRECATED: "deprecate", Lifecycle.RETIRED: "retire"}


def _lifecycle_input(request, version):
    """The form's move: `to`, `replacement` (a version id of the same component), `sunset_date`
    (YYYY-MM-DD); a bad value is an error to show, not a 500."""
    errors = {}
    if request.POST.get("to") not in TRANSITIONS.get(version.lifecycle, ()):
        moves = " or ".join(TRANSITIONS[version.lifecycle]) or "nothing: retired is final"
        errors["to"] = [f"{version} is {version.lifecycle}; it can move to {moves}."]
    replacement = None
    if request.POST.get("replacement"):
        replacement = ComponentVersion.objects.filter(component=version.component, pk=request.POST["replacement"]
                                                      if request.POST["replacement"].isdigit() else None).first()
        if replacement is None:
            errors["replacement"] = ["Choose a version of this component."]
    sunset = None
    if request.POST.get("sunset_date"):
        try:
            sunset = datetime.date.fromisoformat(request.POST["sunset_date"])
        except ValueError:
            errors["sunset_date"] = ["Give the day as YYYY-MM-DD."]
    return request.POST.get("to", ""), replacement, sunset, errors


@require_POST
def component_version_lifecycle(request, pk):
    """POST the move: without confirm=1 the confirmation page (its impact), with it the move."""
    catalog_curator_required(request.user)
    version = get_object_or_404(ComponentVersion.objects.select_related("component"), pk=pk)
    to, replacement, sunset, errors = _lifecycle_input(request, version)
    if not errors and request.POST.get("confirm") == "1":
        try:
            version_transition(user=request.user, version=version, to=to, replacement=replacement, sunset_date=sunset)
        except LifecycleError as error:
            errors["to"] = [str(error)]
        else:
            messages.success(request, f"{version.component.name} {version.version} is now {to}.")
            return redirect("catalog-component", slug=version.component.slug)
    plan = rebuild_plan(user=request.user, subject=RebuildSubject(component=version.component))
    using = [p for p in plan.recipes if p.from_version == version.version]
    alternatives = version.component.versions.filter(lifecycle=Lifecycle.PUBLISHED).exclude(pk=version.pk)
    return render(request, "curation/catalog_lifecycle_confirm.html", {
        "version": version, "to": to, "verb": MOVE_VERBS.get(to, "move"), "replacement": replacement,
        "sunset_date": sunset, "errors": errors, "using": using, "teams": sorted({p.recipe.team.slug for p in using}),
        "alternatives": alternatives}, status=400 if errors else 200)
