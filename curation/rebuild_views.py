"""Rebuild pages for platform admins: plan a rebuild of a base or a component (impact and dry run),
run it after a confirmation, follow a batch's progress (polled while anything still moves) and
retry its failures; and the list of past batches. The rules are in curation.rebuild_plans."""
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.models import BaseImage, Component
from curation.models import RebuildItem, RebuildMode
from curation.rebuild_plans import (
    RebuildError,
    batch_counts,
    batch_items,
    batch_settled,
    rebuild_batches,
    rebuild_dry_run,
    rebuild_item_retry,
    rebuild_plan,
    rebuild_planner_required,
    rebuild_run,
    rebuild_subject,
)
from portal.csv_export import csv_response


def _require_admin(request):
    rebuild_planner_required(request.user)  # PermissionDenied: the 403 page says whom to ask


def _choice(source) -> dict:
    """The plan's inputs as the URL carries them: subject "base:<slug>" or "component:<slug>",
    upgrade (move a component to its latest version), mode."""
    kind, _, slug = source.get("subject", "").partition(":")
    return {"subject": source.get("subject", ""), "kind": kind, "slug": slug.strip(),
            "upgrade": source.get("upgrade") == "1", "mode": source.get("mode") or RebuildMode.ALL}


def _subject(choice):
    if choice["kind"] not in ("base", "component"):
        raise RebuildError("Choose a base image or a component to rebuild.")
    return rebuild_subject(**{choice["kind"]: choice["slug"]}, upgrade=choice["upgrade"])


@require_http_methods(["GET", "POST"])
def rebuild_new(request):
    """GET: the plan and its dry run for the subject in the URL (nothing changes). POST: the same,
    with a confirmation to give; POST with confirm=1 runs it and opens the batch."""
    _require_admin(request)
    choice = _choice(request.POST if request.method == "POST" else request.GET)
    context = {"choice": choice, "modes": RebuildMode.choices, "errors": {},
               "bases": BaseImage.objects.exclude(proposal_state="pending").order_by("name"),
               "components": Component.objects.order_by("name")}
    if request.method == "GET" and not choice["subject"]:
        return render(request, "curation/rebuild_new.html", context)
    try:
        subject = _subject(choice)
        if request.method == "POST" and request.POST.get("confirm") == "1":
            batch = rebuild_run(user=request.user, subject=subject, mode=choice["mode"])
            messages.success(request, f"Rebuild #{batch.pk} started: {batch.items.count()} recipes planned.")
            return redirect("rebuild-detail", pk=batch.pk)
        plan = rebuild_dry_run(user=request.user, plan=rebuild_plan(user=request.user, subject=subject, mode=choice["mode"]))
        if request.method == "GET" and request.GET.get("format") == "csv":
            return _plan_csv(plan)
    except RebuildError as error:
        context["errors"] = {"subject": [str(error)]}
        return render(request, "curation/rebuild_new.html", context, status=400)
    context.update(plan=plan, counts=plan.counts, confirming=request.method == "POST")
    return render(request, "curation/rebuild_new.html", context)


PLAN_CSV_COLUMNS = ["position", "team", "recipe", "from_version", "to_version", "current_build", "current_verdict",
                    "after", "dry_run", "detail"]
BATCH_CSV_COLUMNS = ["position", "team", "recipe", "from_version", "to_version", "status", "build", "attempts", "detail"]


def _plan_csv(plan):
    """The plan and its dry run as the page shows them, for a change ticket or a team's e-mail."""
    return csv_response(f"rebuild-plan-{plan.subject.label}.csv", PLAN_CSV_COLUMNS, (
        [n, p.recipe.team.slug, p.recipe.name, p.from_version, p.to_version, p.image.pk if p.image else "",
         p.verdict_state, " ".join(str(r) for r in p.after), "skipped" if p.skipped else p.dry_run,
         p.skip_reason or p.dry_run_detail] for n, p in enumerate(plan.recipes, start=1)))


def _batch_csv(batch, items):
    return csv_response(f"rebuild-{batch.pk}.csv", BATCH_CSV_COLUMNS, (
        [n, item.recipe.team.slug, item.recipe.name, item.from_version, item.to_version, item.status,
         item.build_id or "", item.attempts,
         item.detail or (item.build.error_message if item.build_id and item.status == "build-failed" else "")]
        for n, item in enumerate(items, start=1)))


def _batch_context(batch):
    items = batch_items(batch)
    return {"batch": batch, "items": items, "count_rows": _count_rows(items), "settled": batch_settled(items)}


def _count_rows(items) -> list[tuple[str, str, int]]:
    """(status, label, how many) of the statuses the batch has, in the statuses' order."""
    counts = batch_counts(items)
    return [(value, label, counts[value]) for value, label in RebuildItem.Status.choices if counts[value]]


@require_GET
def rebuild_detail(request, pk):
    _require_admin(request)
    batch = get_object_or_404(rebuild_batches(), pk=pk)
    if request.GET.get("format") == "csv":
        return _batch_csv(batch, batch_items(batch))
    return render(request, "curation/rebuild_detail.html", _batch_context(batch))


@require_GET
def rebuild_progress(request, pk):
    """The batch's progress fragment, which htmx polls; without its trigger once nothing moves."""
    _require_admin(request)
    batch = get_object_or_404(rebuild_batches(), pk=pk)
    response = render(request, "curation/_rebuild_progress.html", {**_batch_context(batch), "polled": True})
    response["Vary"] = "HX-Request"
    return response


@require_GET
def rebuild_list(request):
    _require_admin(request)
    batches = list(rebuild_batches()[:100])
    for batch in batches:
        batch.count_rows = _count_rows(batch_items(batch))
    return render(request, "curation/rebuild_list.html", {"batches": batches})


@require_POST
def rebuild_item_retry_view(request, pk):
    _require_admin(request)
    item = get_object_or_404(RebuildItem.objects.select_related("recipe", "batch"), pk=pk)
    try:
        item = rebuild_item_retry(user=request.user, item=item)
    except RebuildError as error:
        messages.error(request, str(error))
    else:
        if item.build_id:
            messages.success(request, f"{item.recipe}: build #{item.build_id} requested.")
        else:
            messages.error(request, f"{item.recipe} still does not compose: {item.detail}")
    return redirect(reverse("rebuild-detail", args=[item.batch_id]) + f"#item-{item.pk}")
