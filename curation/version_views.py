"""A new component version on a page (the Django admin was the only way): the form starts from the
newest version's values, and curation.versions.version_create checks and creates it as a draft."""
import re

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from catalog.models import Component
from catalog.selectors import selectable_bases
from curation.lifecycle import catalog_curator_required
from curation.versions import VersionError, parameters_parse, version_create, version_prefill

FIELDS = ("version", "fragment", "final_fragment", "parameters", "requires", "conflicts")


def _slug_list(text: str) -> list[str]:
    return [s for s in re.split(r"[\s,]+", text.strip()) if s]


@require_http_methods(["GET", "POST"])
def component_version_new(request, slug):
    catalog_curator_required(request.user)
    component = get_object_or_404(Component, slug=slug)
    prefill = version_prefill(component)
    values, errors = prefill, {}
    if request.method == "POST":
        values = {**{name: request.POST.get(name, "") for name in FIELDS}, "os_families": request.POST.getlist("os_families")}
        try:
            version = version_create(
                user=request.user, component=component, version=values["version"], os_families=values["os_families"],
                fragment=values["fragment"], final_fragment=values["final_fragment"],
                parameters=parameters_parse(values["parameters"]), requires=_slug_list(values["requires"]),
                conflicts=_slug_list(values["conflicts"]))
        except VersionError as error:
            errors = error.errors
        else:
            messages.success(request, f"{component.name} {version.version} is created as a draft: only platform admins "
                                      "see it. Publish it below when it is ready.")
            return redirect(reverse("catalog-component", args=[component.slug]) + f"#version-{version.version}")
    families = sorted(set(selectable_bases().values_list("os_family", flat=True)) | set(prefill["os_families"]))
    return render(request, "curation/catalog_version_new.html", {
        "component": component, "values": values, "errors": errors, "families": families, "from": prefill.get("from"),
    }, status=400 if errors else 200)
