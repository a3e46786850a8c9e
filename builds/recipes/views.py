"""Pages for recipes: the builder (new and edit, with its live preview and a link to the
configuration, builds/recipes/share.py), the recipe page and its Build button, which asks first
when the policy will block the image. Each view starts with one access helper."""
import hashlib

from django.contrib import messages
from django.core.exceptions import PermissionDenied, TooManyFieldsSent
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from builds.dockerfile.views import dockerfile_form
from builds.errors import CompositionError
from builds.models import Recipe
from builds.recipes.form import builder_parse
from builds.recipes.notices import composition_warnings, recipe_version_notices
from builds.recipes.services import recipe_preview, recipe_save, recipe_visibility_set
from builds.recipes.share import prefill_from_link, share_link
from builds.selectors import visible_recipe_or_404
from builds.services import BuildExpectedBlocked, answered_message, build_request
from builds.team_scripts.views import recipe_scripts_context
from builds.views import after_recipe_saved, build_confirmation_needed
from catalog.parameters import known_time_zones, private_key_found
from catalog.selectors import catalog_components, selectable_bases
from compliance.door import checks_expected
from portal.rbac import is_platform_admin, require_team_member, teams_of


def _preview_context(request, parsed):
    context = {"dockerfile": "", "preview_errors": {}}
    if parsed.base is None:
        context["preview_errors"] = {"base": "Choose a base image to see the Dockerfile."}
        return context
    artifact = request.FILES.get("artifact")
    try:
        composition = recipe_preview(base=parsed.base, choices=parsed.choices, artifact_name=artifact.name if artifact else "",
                                     artifact_sha256=_sha256_of(artifact) if artifact else "")
        context["dockerfile"] = composition.dockerfile
        context["composition_sha256"] = composition.sha256
        link = share_link(parsed)  # what composes can be shared: a plain link, updated with the preview
        context["share_url"], context["share_left_out"] = f"{reverse('recipe-new')}?{link.query}", link.left_out
    except CompositionError as error:
        context["preview_errors"] = error.errors or {"recipe": str(error)}
    context["expected_checks"] = _expected_checks(parsed, context["dockerfile"])
    context["preview_warnings"] = composition_warnings(base=parsed.base, versions=[v for v, _ in parsed.choices])
    return context


def _sha256_of(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _expected_checks(parsed, dockerfile: str = ""):
    """What the policy will say before the build, for the team the form names."""
    return checks_expected(team=parsed.team, base=parsed.base, component_slugs={v.component.slug for v, _ in parsed.choices},
                           runtime=parsed.runtime, dockerfile=dockerfile)


def _version_named(component, values):
    """The version of `component` the form names, if it names one the team may see."""
    named = (values or {}).get(f"version-{component.slug}")
    return next((v for v in component.known_versions if v.version == named), None) if named else None


def _component_rows(components, values, errors):
    """Each published component with its parameter fields, current values and errors, for the form;
    the versions to choose from are the published ones and the one the recipe names (a deprecated
    one is kept, with a warning in the preview, until the team moves)."""
    rows = []
    for component in components:
        named = _version_named(component, values)
        offered = list(component.published_versions)
        if named is not None and named not in offered:
            offered.append(named)
        if not offered:
            continue
        version = named or offered[0]
        fields = []
        for spec in version.parameters:
            field_name = f"param-{component.slug}-{spec['name']}"
            value = values.get(field_name, spec.get("default", "")) if values else spec.get("default", "")
            if value and private_key_found(str(value)):
                value = ""  # refused: the page does not send a private key back either
            fields.append({"name": field_name, "spec": spec, "value": value or "",
                           "error": errors.get(f"{component.slug}.{spec['name']}", "")})
        rows.append({"component": component, "version": version, "versions": offered, "fields": fields,
                     "error": errors.get(component.slug, "")})
    return rows


def _recipe_values(recipe: Recipe) -> QueryDict:
    """The builder's form fields for an existing recipe, so editing starts from what was saved."""
    values = QueryDict(mutable=True)
    values.update({"team": recipe.team.slug, "name": recipe.name, "base": recipe.base.slug,
                   "cap_add": ", ".join(recipe.cap_add)})
    if recipe.privileged:
        values["privileged"] = "1"
    for choice in recipe.choices.select_related("version__component"):
        slug = choice.version.component.slug
        values.appendlist("component", slug)
        values[f"version-{slug}"] = choice.version.version
        for name, value in choice.values.items():
            values[f"param-{slug}-{name}"] = value
    return values


NON_ROOT_OPTION = "runtime-user"


def _builder(request, recipe: Recipe | None = None):
    """New image and edit image: the same form, live preview and validation."""
    components = list(catalog_components())
    bases = list(selectable_bases())
    link_notices = []
    if request.method == "POST":
        values = request.POST.copy()
        if recipe is not None:  # an image keeps its team and name; both are in its repository path
            values.update({"team": recipe.team.slug, "name": recipe.name})
    else:
        query, link_notices = _link_query(request)
        if recipe is not None and not query:
            values = _recipe_values(recipe)
        else:  # a new image, or a link to a configuration: every value checked against the catalog
            values, notices = prefill_from_link(user_teams=teams_of(request.user), query=query, components=components,
                                                bases=bases)
            link_notices += notices
    if request.method != "POST":
        if "base" not in values and bases:
            values["base"] = bases[0].slug
        # A new image runs as a non-root user unless its team unticks it: the policy blocks root.
        if recipe is None and "component" not in values and any(c.slug == NON_ROOT_OPTION for c in components):
            values.setlist("component", [NON_ROOT_OPTION])
    parsed = builder_parse(user=request.user, data=values, components=components)
    if parsed.base is not None and parsed.base not in bases:
        bases.append(parsed.base)  # a deprecated base the recipe keeps, shown with its warning
    context = {"bases": bases, "teams": teams_of(request.user), "values": values, "recipe": recipe,
               "time_zones": sorted(known_time_zones()), "selected": parsed.selected, "errors": {},
               "link_notices": link_notices}
    context.update(_preview_context(request, parsed))
    status = 200
    if request.method == "POST" and request.POST.get("action") != "preview":
        context["errors"] = dict(parsed.errors)
        blocked = build_confirmation_needed(request, context.get("expected_checks"))
        if not parsed.errors and blocked:
            # A build the policy is known to block: say so and ask, rather than spend a build on it.
            context["confirm_blocked"] = blocked
        elif not parsed.errors:
            try:
                saved = recipe_save(user=request.user, team=parsed.team, name=parsed.name, base=parsed.base,
                                    choices=parsed.choices, artifact=request.FILES.get("artifact"), recipe=recipe,
                                    runtime=parsed.runtime)
            except CompositionError as error:
                context["errors"].update(error.errors or {"recipe": str(error)})
            else:
                return after_recipe_saved(request, saved)
        status = 400 if context["errors"] else 200
    context["rows"] = _component_rows(components, values, context["errors"])
    return render(request, "builds/recipe_new.html", context, status=status)


def _link_query(request) -> tuple[QueryDict, list[str]]:
    """The GET parameters, or none when there are more than Django reads (no builder made that link:
    it is set aside with a notice rather than an error page)."""
    try:
        return request.GET, []
    except TooManyFieldsSent:
        return QueryDict(), ["The link carries more settings than the builder reads; none of them were used."]


def recipe_new(request):
    return _builder(request)


def recipe_edit(request, pk):
    recipe = visible_recipe_or_404(request.user, pk)
    require_team_member(request.user, recipe.team)
    if recipe.kind == Recipe.Kind.DOCKERFILE:

        return dockerfile_form(request, recipe)
    return _builder(request, recipe)


@require_POST
def recipe_preview_partial(request):
    parsed = builder_parse(user=request.user, data=request.POST)
    return render(request, "builds/_preview.html", _preview_context(request, parsed))


@require_GET
def recipe_detail(request, pk):
    recipe = visible_recipe_or_404(request.user, pk)
    builds = recipe.builds.select_related("requested_by").prefetch_related("verdicts")[:20]

    return render(request, "builds/recipe_detail.html", {
        "recipe": recipe, "builds": builds,
        "choices": recipe.choices.select_related("version__component"),
        "can_build": recipe.team in teams_of(request.user),
        "version_notices": recipe_version_notices(recipe), "can_plan_rebuild": is_platform_admin(request.user),
        **recipe_scripts_context(request, recipe),
    })


@require_POST
def recipe_visibility(request, pk):
    recipe = visible_recipe_or_404(request.user, pk)
    try:
        recipe_visibility_set(user=request.user, recipe=recipe, visible=request.POST.get("visible") == "1")
    except PermissionDenied as error:
        messages.error(request, str(error))
        return redirect("recipe-detail", pk=recipe.pk)
    messages.success(request, "Other teams may now pull its published images." if recipe.visible_to_other_teams
                     else "Only your team may pull its published images now.")
    return redirect("recipe-detail", pk=recipe.pk)


@require_POST
def recipe_build(request, pk):
    """The recipe page's Build button: asks first (a page of its own, nothing built) when the policy
    is known to block the image; builds once confirmed (confirm=1)."""
    recipe = visible_recipe_or_404(request.user, pk)
    no_cache, confirmed = request.POST.get("no_cache") == "1", request.POST.get("confirm") == "1"
    try:  # once confirmed, the expected failures are still worked out: the audit log records them
        build = build_request(user=request.user, recipe=recipe, no_cache=no_cache, ask_if_blocked=not confirmed,
                              report_expected=confirmed)
    except BuildExpectedBlocked as blocked:
        return render(request, "builds/recipe_build_confirm.html",
                      {"recipe": recipe, "failures": blocked.failures, "no_cache": no_cache})
    except CompositionError as error:
        messages.error(request, f"Cannot build: {error}")
        return redirect("recipe-detail", pk=recipe.pk)
    if getattr(build, "answered_by_existing", False):
        messages.info(request, answered_message(build))
    return redirect("build-detail", pk=build.pk)
