"""Pages for shared team scripts and a recipe's build settings. Each view starts with one access helper;
writes go through the same services as the API, so both refuse the same things."""
import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from builds.errors import CompositionError
from builds.models import Recipe, TeamScript
from builds.selectors import visible_recipe_or_404
from builds.team_scripts.build_settings import recipe_build_settings_save
from builds.team_scripts.services import TeamScriptRefused, team_script_promote, team_script_save
from catalog.selectors import selectable_bases
from portal.rbac import require_team_member, teams_of, visible_teams


def _textarea(request, name: str) -> str:
    """A textarea's text as typed: browsers submit its line breaks as CRLF (the HTML spec says
    so), which sh reads as a literal carriage return at the end of every line."""
    return request.POST.get(name, "").replace("\r\n", "\n")


def _script_for_user(request, pk) -> TeamScript:
    return get_object_or_404(TeamScript.objects.select_related("team"), pk=pk, team__in=visible_teams(request.user))


def _recipe_for_member(request, pk) -> Recipe:
    recipe = visible_recipe_or_404(request.user, pk)
    require_team_member(request.user, recipe.team)
    return recipe


@require_http_methods(["GET", "POST"])
def team_script_list(request):
    """The shared scripts of the user's teams, and a form to add one."""
    context = {"scripts": TeamScript.objects.filter(team__in=visible_teams(request.user)).select_related("team")
               .prefetch_related("versions"), "teams": teams_of(request.user), "kinds": TeamScript.Kind.choices,
               "values": {}, "errors": {}, "findings": []}
    if request.method == "POST":
        team = get_object_or_404(visible_teams(request.user), slug=request.POST.get("team", ""))
        values = {k: request.POST.get(k, "") for k in ("name", "kind")} | {"text": _textarea(request, "text")}
        try:
            version = team_script_save(user=request.user, team=team, **values)
        except TeamScriptRefused as error:
            context.update(values=values, errors={**error.errors, "script": str(error)}, findings=error.findings)
            return render(request, "builds/team_script_list.html", context, status=400)
        messages.success(request, f"Saved {version}.")
        return redirect("team-script-detail", pk=version.script.pk)
    return render(request, "builds/team_script_list.html", context)


@require_http_methods(["GET", "POST"])
def team_script_detail(request, pk):
    """One script: its versions, the latest text with its check notes, the recipes using it."""
    script = _script_for_user(request, pk)
    context = {"script": script, "versions": script.versions.select_related("created_by"),
               "recipes": sorted({*script.build_recipes.all(), *script.image_recipes.all()}, key=str),
               "can_edit": script.team in teams_of(request.user), "errors": {}, "findings": []}
    context["latest"] = context["versions"].first()
    if request.method == "POST":
        try:
            version = team_script_save(user=request.user, team=script.team, name=script.name, kind=script.kind,
                                       text=_textarea(request, "text"), note=request.POST.get("note", ""))
        except TeamScriptRefused as error:
            context.update(errors={**error.errors, "script": str(error)}, findings=error.findings,
                           draft=_textarea(request, "text"))
            return render(request, "builds/team_script_detail.html", context, status=400)
        messages.success(request, f"Saved {version}.")
        return redirect("team-script-detail", pk=script.pk)
    return render(request, "builds/team_script_detail.html", context)


def recipe_scripts_context(request, recipe: Recipe) -> dict:
    """What the recipe page needs for its build settings and promote forms."""
    command = recipe.build_command
    shown = command[2] if len(command) == 3 and command[:2] == ["sh", "-c"] else (json.dumps(command) if command else "")
    return {"build_command_text": shown, "build_bases": [b for b in selectable_bases() if b.build_base or b.pk == recipe.base_id],
            "team_scripts": TeamScript.objects.filter(team=recipe.team), "script_kinds": TeamScript.Kind.choices}


@require_POST
def recipe_build_settings(request, pk):
    recipe = _recipe_for_member(request, pk)
    text = request.POST.get("build_command", "").strip()
    scripts = TeamScript.objects.filter(team=recipe.team)
    try:
        # A command written as a JSON list is run as those words; anything else is shell text for sh -c.
        command = json.loads(text) if text.startswith("[") else text
        recipe_build_settings_save(
            user=request.user, recipe=recipe, build_command=command, build_output=request.POST.get("build_output", ""),
            build_base=selectable_bases().filter(slug=request.POST.get("build_base", "")).first(),
            shared_build_script=scripts.filter(pk=request.POST.get("shared_build_script") or None).first(),
            shared_image_script=scripts.filter(pk=request.POST.get("shared_image_script") or None).first())
    except json.JSONDecodeError:
        messages.error(request, "The build command starts with '[' but is not a JSON list of words.")
    except CompositionError as error:
        messages.error(request, f"Build settings not saved: {error}")
    else:
        messages.success(request, "Build settings saved; the next build uses them.")
    return redirect("recipe-detail", pk=recipe.pk)


@require_POST
def recipe_promote_script(request, pk):
    recipe = _recipe_for_member(request, pk)
    try:
        version = team_script_promote(user=request.user, recipe=recipe, kind=request.POST.get("kind", ""),
                                      name=request.POST.get("name", "").strip())
    except TeamScriptRefused as error:
        messages.error(request, f"Not promoted: {error}")
        return redirect("recipe-detail", pk=recipe.pk)
    messages.success(request, f"{version} is now shared; this recipe uses it instead of its package's copy.")
    return redirect("team-script-detail", pk=version.script.pk)
