"""Pages for recipes and builds. Each view starts with one access helper."""
from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from builds.builder import builder_parse, catalog_components, selectable_bases
from builds.compose import CompositionError
from builds.lookups import visible_build_or_404, visible_recipe_or_404
from builds.parameters import known_time_zones
from builds.models import Build, BuildLogChunk, Recipe
from builds.services import build_cancel, build_request, recipe_preview, recipe_save
from compliance.gate import GateClosed, image_publish
from compliance.ruleset import ruleset_for
from portal.rbac import require_team_member, teams_of, visible_teams
from portal.registry import RegistryError

LOG_TAIL_CHUNKS = 400


def after_recipe_saved(request, recipe: Recipe):
    """Where the recipe forms go once a recipe is saved: its new build when the user pressed
    "Save and build", else the recipe page."""
    if request.POST.get("action") == "build":
        return redirect("build-detail", pk=build_request(user=request.user, recipe=recipe).pk)
    messages.success(request, f"Recipe {recipe} saved.")
    return redirect("recipe-detail", pk=recipe.pk)


def _preview_context(request, parsed):
    context = {"dockerfile": "", "preview_errors": {}}
    if parsed.base is None:
        context["preview_errors"] = {"base": "Choose a base image to see the Dockerfile."}
        return context
    artifact = request.FILES.get("artifact")
    try:
        composition = recipe_preview(base=parsed.base, choices=parsed.choices, artifact_name=artifact.name if artifact else "")
        context["dockerfile"] = composition.dockerfile
        context["composition_sha256"] = composition.sha256
    except CompositionError as error:
        context["preview_errors"] = error.errors or {"recipe": str(error)}
    context["expected_checks"] = _expected_checks(parsed)
    return context


def _expected_checks(parsed):
    """What the policy will say, as far as it can be known before the build (never the scan)."""
    slugs = {v.component.slug for v, _ in parsed.choices}
    checks = [
        ("pass" if parsed.base and parsed.base.approved else "fail", "Approved base image",
         parsed.base.name if parsed.base else "no base chosen"),
        ("pass" if "runtime-user" in slugs else "fail", "Non-root user",
         "runs as user app" if "runtime-user" in slugs else "tick 'Non-root runtime user' or the image is blocked"),
        ("unknown", "No secrets in ENV", "checked on the built image"),
    ]
    if parsed.team is None:
        return checks
    # Only the rules the team's images face; the runtime rule needs nothing from the image.
    ruleset = ruleset_for(parsed.team)
    kinds = {"Approved base image": "approved-base", "Non-root user": "non-root-user", "No secrets in ENV": "no-secrets-in-env"}
    shown = []
    for state, title, detail in checks:
        rule = ruleset.get(kinds[title])
        if rule is not None:
            shown.append(("warn" if state == "fail" and rule.action == "warn" else state, title, detail))
    return shown + _expected_runtime_check(parsed, ruleset)


def _expected_runtime_check(parsed, ruleset) -> list:
    from compliance.policy_rules_extra import rule_runtime_privileges

    rule = ruleset.get("runtime-privileges")
    if rule is None or rule.error:
        return []
    result = rule_runtime_privileges(parsed.runtime, **rule.params)
    state = "pass" if result.status == "pass" else ("warn" if rule.action == "warn" else "fail")
    return [(state, result.title, result.message)]


def _component_rows(components, values, errors):
    """Each published component with its parameter fields, current values and errors, for the form."""
    rows = []
    for component in components:
        if not component.published_versions:
            continue
        version = component.published_versions[0]
        fields = []
        for spec in version.parameters:
            field_name = f"param-{component.slug}-{spec['name']}"
            value = values.get(field_name, spec.get("default", "")) if values else spec.get("default", "")
            fields.append({"name": field_name, "spec": spec, "value": value or "",
                           "error": errors.get(f"{component.slug}.{spec['name']}", "")})
        rows.append({"component": component, "version": version, "fields": fields, "error": errors.get(component.slug, "")})
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


def _builder(request, recipe: Recipe | None = None):
    """New image and edit image: the same form, live preview and validation."""
    components = list(catalog_components())
    bases = list(selectable_bases())
    if request.method == "POST":
        values = request.POST.copy()
        if recipe is not None:  # an image keeps its team and name; both are in its repository path
            values.update({"team": recipe.team.slug, "name": recipe.name})
    else:
        values = _recipe_values(recipe) if recipe is not None and not request.GET else request.GET.copy()
        if "base" not in values and bases:
            values["base"] = bases[0].slug
    parsed = builder_parse(user=request.user, data=values, components=components)
    context = {"bases": bases, "teams": teams_of(request.user), "values": values, "recipe": recipe,
               "time_zones": sorted(known_time_zones()), "selected": parsed.selected, "errors": {}}
    context.update(_preview_context(request, parsed))
    status = 200
    if request.method == "POST" and request.POST.get("action") != "preview":
        context["errors"] = dict(parsed.errors)
        if not parsed.errors:
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


def recipe_new(request):
    return _builder(request)


def recipe_edit(request, pk):
    recipe = visible_recipe_or_404(request.user, pk)
    require_team_member(request.user, recipe.team)
    if recipe.kind == Recipe.Kind.DOCKERFILE:
        from builds.custom_views import dockerfile_form

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
    from builds.team_script_views import recipe_scripts_context

    return render(request, "builds/recipe_detail.html", {
        "recipe": recipe, "builds": builds,
        "choices": recipe.choices.select_related("version__component"),
        "can_build": recipe.team in teams_of(request.user),
        **recipe_scripts_context(request, recipe),
    })


@require_POST
def recipe_build(request, pk):
    recipe = visible_recipe_or_404(request.user, pk)
    try:
        build = build_request(user=request.user, recipe=recipe, no_cache=request.POST.get("no_cache") == "1")
    except CompositionError as error:
        messages.error(request, f"Cannot build: {error}")
        return redirect("recipe-detail", pk=recipe.pk)
    return redirect("build-detail", pk=build.pk)


@require_GET
def build_list(request):
    builds = Build.objects.filter(team__in=visible_teams(request.user)).select_related("recipe", "team").prefetch_related("verdicts")
    status = request.GET.get("status", "")
    if status:
        builds = builds.filter(status=status)
    return render(request, "builds/build_list.html", {"builds": builds[:200], "status": status, "statuses": Build.Status.choices})


def _live_context(build, after):
    chunks = list(BuildLogChunk.objects.filter(build=build, seq__gt=after).order_by("seq")[:LOG_TAIL_CHUNKS])
    verdict = build.verdicts.order_by("-created").first()
    return {"build": build, "chunks": chunks, "last_seq": chunks[-1].seq if chunks else after, "verdict": verdict,
            "steps": [(name, build.steps.get(name, {})) for name in Build.STEPS],
            "failure_tail": _failure_tail(build) if build.status == Build.Status.FAILED else ""}


def _failure_tail(build, lines=20) -> str:
    """The last log lines of a failed build, shown above the log so nobody has to scroll for them."""
    texts = BuildLogChunk.objects.filter(build=build).order_by("-seq").values_list("text", flat=True)[:5]
    return "\n".join("".join(reversed(texts)).splitlines()[-lines:])


@require_GET
def build_detail(request, pk):
    build = visible_build_or_404(request.user, pk)
    total = build.log_chunks.count()
    context = _live_context(build, max(-1, total - LOG_TAIL_CHUNKS - 1))
    context["hidden_chunks"] = max(0, total - LOG_TAIL_CHUNKS)
    context["can_propose"] = build.team in teams_of(request.user)
    return render(request, "builds/build_detail.html", context)


@require_GET
def build_live(request, pk):
    """New log lines and the current status; answers 286 once the build is done so htmx stops polling."""
    build = visible_build_or_404(request.user, pk)
    try:
        after = int(request.GET.get("after", "-1"))
    except ValueError:
        raise Http404("bad cursor")
    response = render(request, "builds/_live.html", _live_context(build, after))
    if build.is_done:
        response.status_code = 286
    return response


@require_GET
def build_log_raw(request, pk):
    build = visible_build_or_404(request.user, pk)
    text = "".join(BuildLogChunk.objects.filter(build=build).order_by("seq").values_list("text", flat=True))
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@require_GET
def build_dockerfile(request, pk):
    build = visible_build_or_404(request.user, pk)
    text = build.dockerfile + (f"\n# ---- stage 2 ----\n{build.script_stage}" if build.script_stage else "")
    if build.build_stage:
        text = f"# ---- build stage ----\n{build.build_stage}\n# ---- stage 1 ----\n{text}"
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@require_POST
def build_cancel_view(request, pk):
    build = visible_build_or_404(request.user, pk)
    build = build_cancel(user=request.user, build=build)
    messages.info(request, "Build cancelled." if build.is_done else "Stopping the build…")
    return redirect("build-detail", pk=build.pk)


@require_POST
def build_publish(request, pk):
    build = visible_build_or_404(request.user, pk)
    if build.team not in teams_of(request.user):
        messages.error(request, "Only members of the owning team may publish this image.")
        return redirect("build-detail", pk=build.pk)
    try:
        reference = image_publish(build=build, actor=request.user)
        messages.success(request, f"Published {reference}")
    except GateClosed as closed:
        messages.error(request, str(closed))
    except RegistryError as error:  # the registry is down or refused the copy: say so, keep the page
        messages.error(request, f"Not published: the registry answered {error}. Nothing was changed; retry shortly.")
    return redirect("build-detail", pk=build.pk)
