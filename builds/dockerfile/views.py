"""Pages for Dockerfile recipes: the form with its live check, errors shown against each line."""
from django.shortcuts import render
from django.views.decorators.http import require_POST

from builds.dockerfile.services import DockerfileError, build_args_parse, dockerfile_check, recipe_save_dockerfile
from builds.errors import CompositionError
from builds.models import Recipe
from builds.recipes.form import image_name_error
from builds.views import after_recipe_saved
from compliance.door import dockerfile_findings
from portal.rbac import teams_of


def _annotated(text: str, line_errors: list[dict]) -> list[dict]:
    """The submitted Dockerfile line by line, each with the errors that belong to it."""
    by_line: dict[int, list[str]] = {}
    for error in line_errors:
        by_line.setdefault(error["line"], []).append(error["message"])
    lines = text.replace("\r\n", "\n").split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the final newline does not start a line
    return [{"number": n, "text": line, "errors": by_line.get(n, [])} for n, line in enumerate(lines, 1)]


def _check_context(values) -> dict:
    """Resolve the form's Dockerfile and build arguments: the pinned result or the errors by line."""
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
    context["general_errors"] = [e["message"] for e in context["line_errors"] if e["line"] == 0]
    context["annotated"] = _annotated(text, context["line_errors"]) if context["line_errors"] else []
    return context


def _form_errors(request, values) -> tuple[object, dict]:
    teams = {t.slug: t for t in teams_of(request.user)}
    team = teams.get(values.get("team") or "") or (next(iter(teams.values())) if len(teams) == 1 else None)
    errors = {}
    if team is None:
        errors["team"] = "Choose one of your teams." if teams else "You are not in any team yet; ask a platform admin."
    if name_error := image_name_error(values.get("name") or ""):
        errors["name"] = name_error
    return team, errors


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
    context = {"values": values, "recipe": recipe, "teams": teams_of(request.user), **_check_context(values)}
    status = 200
    if request.method == "POST" and request.POST.get("action") in ("save", "build"):
        team, errors = _form_errors(request, values)
        context["errors"].update(errors)
        if not context["errors"]:
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
    """The live check beside the textarea (htmx): pinned FROM lines, or the errors by line."""
    return render(request, "builds/_dockerfile_check.html", {"values": request.POST, **_check_context(request.POST)})
