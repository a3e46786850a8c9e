"""Pages for builds (the list, a build with its live log, its Dockerfile, publish and cancel); the
home page is builds/home.py. Each view starts with one access helper."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from adapters.registry import RegistryError
from builds.liveness import build_liveness
from builds.log_window import LogWindow, log_window, running_command
from builds.models import Build, BuildLogChunk, Recipe
from builds.selectors import visible_build_or_404
from builds.services import answered_message, build_cancel, build_request
from builds.services import build_publish as publish
from compliance.door import GateClosed, build_reevaluate, build_signature, build_standing, expected_failures
from portal.csv_export import csv_response
from portal.rbac import team_scope, teams_of, visible_teams


def after_recipe_saved(request, recipe: Recipe):
    """Where the recipe forms go once a recipe is saved: its new build when the user pressed
    "Save and build", else the recipe page."""
    if request.POST.get("action") in ("build", "build-anyway"):
        # "Build anyway": the audit log records what the policy was expected to block.
        build = build_request(user=request.user, recipe=recipe, report_expected=request.POST.get("action") == "build-anyway")
        if getattr(build, "answered_by_existing", False):
            messages.info(request, answered_message(build))
        return redirect("build-detail", pk=build.pk)
    messages.success(request, f"Recipe {recipe} saved.")
    return redirect("recipe-detail", pk=recipe.pk)


def build_confirmation_needed(request, expected_checks) -> list:
    """The expected failures to ask about before a form's "Save and build" ([] for any other button,
    and once the user pressed "Build anyway"): nothing is saved or built until the user confirms."""
    return expected_failures(expected_checks or []) if request.POST.get("action") == "build" else []


BUILD_LIST_ROWS = 200
BUILDS_CSV_COLUMNS = ["build", "team", "image", "status", "verdict", "digest", "published", "requested", "finished",
                      "error_code"]


@require_GET
def build_list(request):
    """All builds the user may see, newest first, filtered by status and team; CSV with ?format=csv
    (the same filters, every row rather than the page's latest BUILD_LIST_ROWS)."""
    teams = visible_teams(request.user)
    builds = Build.objects.filter(team__in=teams).select_related("recipe", "team").prefetch_related("verdicts")
    status = request.GET.get("status", "") if request.GET.get("status") in Build.Status.values else ""
    team, _ = team_scope(teams, request.GET.get("team"))
    if status:
        builds = builds.filter(status=status)
    if team:
        builds = builds.filter(team__slug=team)
    if request.GET.get("format") == "csv":
        return _builds_csv(builds.order_by("-pk"))
    return render(request, "builds/build_list.html", {
        "builds": builds[:BUILD_LIST_ROWS], "status": status, "statuses": Build.Status.choices, "team": team,
        "teams": teams, "query": request.GET.urlencode()})


def _builds_csv(builds) -> HttpResponse:
    def rows():
        for build in builds.iterator(chunk_size=500):
            verdict = next(iter(build.verdicts.all()), None)  # newest first (Verdict.Meta.ordering)
            yield [build.pk, build.team.slug, build.recipe.name, build.status, "" if verdict is None else verdict.state,
                   build.digest, build.published_reference, build.created.isoformat(),
                   build.finished.isoformat() if build.finished else "", build.error_code]
    return csv_response("builds.csv", BUILDS_CSV_COLUMNS, rows())


def _live_context(build, window: LogWindow):
    """The page's (and each live poll's) build state and log window: at most
    BUILD_LOG_WINDOW_BYTES of log, whatever the build printed."""
    verdict = build.verdicts.order_by("-created").first()
    return {"build": build, "chunks": window.chunks, "window": window, "last_seq": window.last_seq, "verdict": verdict,
            "signature": build_signature(build) if build.published_reference else None,
            # only once the build is done: the live poll of a running build must stay cheap
            "standing": build_standing(build) if verdict is not None and build.is_done else {},
            "steps": [(name, _step_now(name, build.steps.get(name, {}), verdict)) for name in Build.STEPS],
            "liveness": build_liveness(build),
            "running_command": running_command(build) if build.steps.get("build", {}).get("status") == "running" else "",
            "failure_tail": _failure_tail(build) if build.status == Build.Status.FAILED else ""}


def _step_now(name: str, step: dict, verdict) -> dict:
    """The policy step as the latest verdict has it, not as the pipeline left it: a re-evaluation
    may have blocked an image whose policy step passed (or passed one it blocked)."""
    if name != "policy" or verdict is None or step.get("status") not in ("done", "blocked"):
        return step
    return {**step, "status": "done" if verdict.passed else "blocked"}


def _failure_tail(build, lines=20) -> str:
    """The last log lines of a failed build, shown above the log so nobody has to scroll for them."""
    texts = BuildLogChunk.objects.filter(build=build).order_by("-seq").values_list("text", flat=True)[:5]
    return "\n".join("".join(reversed(texts)).splitlines()[-lines:])


@require_GET
def build_detail(request, pk):
    build = visible_build_or_404(request.user, pk)
    line = request.GET.get("line", "")
    context = _live_context(build, log_window(build, line=int(line) if line.isdigit() else None))
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
    response = render(request, "builds/_live.html", _live_context(build, log_window(build, after=after)))
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
def build_verdict_reevaluate(request, pk):
    """'Re-evaluate now' beside a stale verdict."""
    build = visible_build_or_404(request.user, pk)
    try:
        verdict = build_reevaluate(build, actor=request.user)
        messages.success(request, f"Re-evaluated: {'passes' if verdict.passed else 'blocked'} under today's rules and data.")
    except PermissionDenied as refused:
        messages.error(request, str(refused))
    return redirect("build-detail", pk=build.pk)


@require_POST
def build_publish(request, pk):
    build = visible_build_or_404(request.user, pk)
    try:
        reference = publish(user=request.user, build=build)
        messages.success(request, f"Published {reference}")
    except (GateClosed, PermissionDenied) as refused:
        messages.error(request, str(refused))
    except RegistryError as error:  # the registry is down or refused the copy: say so, keep the page
        messages.error(request, f"Not published: the registry answered {error}. Nothing was changed; retry shortly.")
    return redirect("build-detail", pk=build.pk)
