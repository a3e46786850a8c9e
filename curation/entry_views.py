"""New components and base images, and re-pinning a base, on the Catalog pages (the Django admin was
the only way). The rules, the registry reads and the audit are curation.entries'; these views read
the form, keep what was typed when it is refused, and say what happens next."""
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from catalog.models import BaseImage, Component
from curation.entries import (
    ORDER_WEIGHT_MAX,
    ORDER_WEIGHT_MIN,
    EntryError,
    base_create,
    base_registry_digest,
    base_repin,
    base_repin_problem,
    component_create,
)
from curation.lifecycle import catalog_curator_required


def rebuild_plan_url(base: BaseImage) -> str:
    """The Rebuilds page's plan of the recipes on `base` (impact and dry run; nothing runs yet)."""
    return f"{reverse('rebuild-new')}?{urlencode({'subject': f'base:{base.slug}'})}"


COMPONENT_FIELDS = ("slug", "name", "kind", "description", "order_weight")
BASE_FIELDS = ("slug", "name", "repository", "tag", "os_family", "os_release", "description")


def _entry_form(request, *, template: str, initial: dict, read, create, done, context: dict):
    """GET: the form with `initial`. POST: `create` with what `read` took from it; `done(entry)` says
    where to go, or the form comes back with what was typed and the refusal's errors."""
    values, errors = initial, {}
    if request.method == "POST":
        values = read(request.POST)
        try:
            entry = create(user=request.user, **values)
        except EntryError as error:
            errors = error.errors
        else:
            return done(entry)
    return render(request, template, {"values": values, "errors": errors, **context}, status=400 if errors else 200)


@require_http_methods(["GET", "POST"])
def component_new(request):
    catalog_curator_required(request.user)

    def done(component):
        messages.success(request, f"Component {component.name} is created. Teams are offered it only once a version "
                                  "of it is published: give its first version now, then publish it on its page.")
        return redirect("catalog-component-new-version", slug=component.slug)

    return _entry_form(
        request, template="curation/catalog_component_new.html", initial={"kind": Component.Kind.OPTION, "order_weight": "100"},
        read=lambda form: {name: form.get(name, "") for name in COMPONENT_FIELDS}, create=component_create, done=done,
        context={"kinds": Component.Kind.choices, "weight_min": ORDER_WEIGHT_MIN, "weight_max": ORDER_WEIGHT_MAX})


@require_http_methods(["GET", "POST"])
def base_new(request):
    catalog_curator_required(request.user)

    def done(base):
        messages.success(request, f"Base image {base.name} is created as a draft, pinned to {base.digest}: only "
                                  "platform admins see it. Publish it below to offer it to teams.")
        return redirect("catalog-base", slug=base.slug)

    return _entry_form(
        request, template="curation/catalog_base_new.html", initial={"repository": "base/"},
        read=lambda form: {**{name: form.get(name, "") for name in BASE_FIELDS}, "build_base": form.get("build_base") == "on"},
        create=base_create, done=done, context={})


@require_http_methods(["GET", "POST"])
def base_repin_view(request, slug):
    """GET: the digest pinned now beside the one the registry holds for the tag. POST: re-pin, then
    the rebuild plan of the recipes on the base."""
    catalog_curator_required(request.user)
    base = get_object_or_404(BaseImage, slug=slug)
    errors, current = {}, ""
    try:
        if problem := base_repin_problem(base):
            raise EntryError({"repin": [problem]})
        if request.method == "POST":
            base = base_repin(user=request.user, base=base)
            messages.success(request, f"{base.name} is pinned to {base.digest}. Plan the rebuild of the recipes on it here.")
            return redirect(rebuild_plan_url(base))
        current = base_registry_digest(base)
    except EntryError as error:
        # One place on this page for what went wrong, whichever part of the re-pin it concerns.
        errors = {"repin": [message for problems in error.errors.values() for message in problems]}
    return render(request, "curation/catalog_base_repin.html", {"base": base, "current": current, "errors": errors},
                  status=400 if errors and request.method == "POST" else 200)
