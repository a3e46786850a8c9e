"""Pages for Dockerfile recipes: the form with its live check (errors shown against each line, then
what the policy will say of the image), asking before a build the policy will block."""
from django.shortcuts import render
from django.views.decorators.http import require_POST

from builds.dockerfile.services import (
    DockerfileError,
    build_args_parse,
    dockerfile_check,
    dockerfile_expected,
    recipe_save_dockerfile,
)
from builds.errors import CompositionError
from builds.models import Recipe
from builds.recipes.form import image_name_error
from builds.recipes.runtime import runtime_snapshot
from builds.views import after_recipe_saved, build_confirmation_needed
from compliance.door import dockerfile_findings, expected_failures
from portal.rbac import teams_of

NEW_RECIPE_RUNTIME = {"privileged": False, "cap_add": []}  # a new recipe's, until set (API or recipe page)


def _annotated(text: str, line_errors: list[dict]) -> list[dict]:
    """The submitted Dockerfile line by line, each with the errors that belong to it."""
    by_line: dict[int, list[str]] = {}
    for error in line_errors:
        by_line.setdefault(error["line"], []).append(error["message"])
    lines = text.replace("\r\n", "\n").split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the final newline does not start a line
    return [{"number": n, "text": line, "errors": by_line.get(n, [])} for n, line in enumerate(lines, 1)]


def _check_context(values, *, team, runtime: dict) -> dict:
    """Resolve the form's Dockerfile and build arguments: the pinned result and what the policy will
    say of its image (for `team`, whose rules apply), or the errors by line."""
    text = values.get("dockerfile") or ""
    context = {"line_errors": [], "general_errors": [], "resolved": None, "errors": {}}
    try:
        build_args = build_args_parse(values.get("build_args") or "")
        context["resolved"] = dockerfile_check(dockerfile=text, build_args=build_args)
    except DockerfileError as error:
        context["line_errors"] = error.lines
        context["errors"]["dockerfile"] = str(error)
    except CompositionError as error:
        context["errors"].update(error.errors or {"dockerfile": str(error)})
    if context["resolved"] is not None:
        context["lint"], context["lint_problem"] = dockerfile_findings(context["resolved"].dockerfile)
        context["expected_checks"] = dockerfile_expected(team=team, resolved=context["resolved"], build_args=build_args,
                                                         runtime=runtime)  # its lint check reads hadolint's cached answer
        context["expected_failing"] = len(expected_failures(context["expected_checks"]))
    context["general_errors"] = [e["message"] for e in context["line_errors"] if e["line"] == 0]
    context["annotated"] = _annotated(text, context["line_errors"]) if context["line_errors"] else []
    return context


def _team_chosen(user, values):
    """The team the form names, or the user's only team (None: not chosen yet), and all of them."""
    teams = {t.slug: t for t in teams_of(user)}
    return teams.get(values.get("team") or "") or (next(iter(teams.values())) if len(teams) == 1 else None), teams


def _form_errors(values, team, teams) -> dict:
    errors = {}
    if team is None:
        errors["team"] = "Choose one of your teams." if teams else "You are not in any team yet; ask a platform admin."
    if name_error := image_name_error(values.get("name") or ""):
        errors["name"] = name_error
    return errors


def dockerfile_form(request, recipe: Recipe | None = None):
    """New and edit: the same form. Saving checks everything again in the service."""
    if request.method == "POST":
        values = request.POST.copy()
        if recipe is not None:  # team and name are part of the image's repository path
            values.update({"team": recipe.team.slug, "name": recipe.name})
    elif recipe is not None:
        values = {"team": recipe.team.slug, "name": recipe.name, "dockerfile": recipe.dockerfile,
                  "build_args": "\n".join(f"{k}={v}" for k, v in recipe.build_args.items())}
    else:
        values = {"dockerfile": "ARG TAG=1.35\nFROM base/busybox:${TAG}\nCOPY . /app\nUSER 10001\n"}
    team, teams = _team_chosen(request.user, values)
    runtime = runtime_snapshot(recipe) if recipe is not None else NEW_RECIPE_RUNTIME
    context = {"values": values, "recipe": recipe, "teams": list(teams.values()),
               **_check_context(values, team=team, runtime=runtime)}
    status = 200
    if request.method == "POST" and request.POST.get("action") in ("save", "build", "build-anyway"):
        context["errors"].update(_form_errors(values, team, teams))
        if not context["errors"] and (blocked := build_confirmation_needed(request, context.get("expected_checks"))):
            context["confirm_blocked"] = blocked  # nothing saved or built until the user confirms
        elif not context["errors"]:
            try:
                saved = recipe_save_dockerfile(
                    user=request.user, team=team, name=values["name"], dockerfile=values.get("dockerfile") or "",
                    build_args=build_args_parse(values.get("build_args") or ""),
                    context=request.FILES.get("context"), recipe=recipe)
            except CompositionError as error:
                context["errors"].update(error.errors or {"recipe": str(error)})
            else:
                return after_recipe_saved(request, saved)
        status = 400 if context["errors"] else 200
    return render(request, "builds/recipe_dockerfile.html", context, status=status)


def recipe_new_dockerfile(request):
    return dockerfile_form(request)


@require_POST
def dockerfile_check_partial(request):
    """The live check beside the textarea (htmx): pinned FROM lines and the expected checks, or the
    errors by line. An edit names its recipe, whose runtime settings the runtime rule reads."""
    team, _ = _team_chosen(request.user, request.POST)
    recipe_id = request.POST.get("recipe", "")
    recipe = Recipe.objects.filter(pk=recipe_id, team__in=teams_of(request.user)).first() if recipe_id.isdigit() else None
    runtime = runtime_snapshot(recipe) if recipe is not None else NEW_RECIPE_RUNTIME
    return render(request, "builds/_dockerfile_check.html",
                  {"values": request.POST, **_check_context(request.POST, team=team, runtime=runtime)})
