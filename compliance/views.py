"""Compliance pages: the image report (findings with filters and CSV export), the security
dashboard and the list of current images its tiles lead to."""
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from builds.selectors import visible_build_or_404
from compliance.exceptions.selectors import exception_counts_by_team, exception_tab_q, exceptions_of_team, exceptions_visible_to
from compliance.exceptions.views import expiry_from_date
from compliance.models import ImageScan, ImportRun, PolicyException
from compliance.reports.compare.selectors import comparison_counts
from compliance.sbom_export import sbom_response
from compliance.selectors import (
    IMAGE_STATE_FILTERS,
    IMAGE_STATES,
    ORIGIN_FILTERS,
    FindingExceptions,
    current_images,
    finding_origin_labels,
    findings_filter,
    fleet_figures_by_team,
    fleet_summary,
    image_counts,
    reevaluations_owed,
    severity_counts,
    verdict_standing,
    vulnerability_findings,
    vulnerability_impact_counts,
)
from compliance.trend.chart import trend_chart
from compliance.trend.selectors import PERIODS, verdict_trend
from compliance.vulndb.lookup import advisories_named
from compliance.vulndb.severity import SEVERITY_ORDER
from compliance.vulndb.store import database_version
from compliance.vulnerability_actions import affected_images, vulnerability_exceptions_request, vulnerability_fixes_rebuild
from portal.csv_export import csv_response
from portal.page_cache.pages import cached_page
from portal.rbac import team_scope, visible_teams

PAGE = 50
CSV_COLUMNS = ["image", "digest", "vulnerability", "advisory", "severity", "severity_source", "package", "source_package",
               "installed_version", "fixed_version", "layer", "origin", "found_by", "status", "origin_kind"]
IMPORTED_SOURCES = ("trivy", "grype")  # advisories made from imported reports; every other source is the portal's data


def _report_filters(request) -> dict:
    return {
        "severities": [s for s in request.GET.getlist("sev") if s in SEVERITY_ORDER],
        "fixable": request.GET.get("fixable") == "1",
        "q": request.GET.get("q", "").strip()[:100],
        "package": request.GET.get("package", "").strip()[:200],  # a whole name: the search's links to one package
        "origin": request.GET.get("origin", "") if request.GET.get("origin") in ORIGIN_FILTERS else "",
        "excepted": request.GET.get("excepted", "") if request.GET.get("excepted") in ("hide", "only") else "",
    }


def _status(exception) -> str:
    return f"excepted by exception {exception.pk} until {exception.expires_at:%Y-%m-%d}" if exception else "open"


@require_GET
@cached_page
def image_report(request, pk):
    build = visible_build_or_404(request.user, pk)
    scan = ImageScan.objects.filter(build=build).first()
    filters = _report_filters(request)
    verdict = build.verdicts.order_by("-created", "-pk").first()
    context = {"build": build, "scan": scan, "filters": filters, "severity_order": SEVERITY_ORDER, "verdict": verdict,
               "origin_filters": ORIGIN_FILTERS,
               "database_now": database_version(), "standing": verdict_standing(build) if verdict else {}}
    if scan is not None and scan.status == ImageScan.Status.DONE:
        base_layers = len(build.recipe.base.layer_digests)
        exceptions = FindingExceptions(build)
        labels = finding_origin_labels(build, scan, base_layers=base_layers)
        everything = findings_filter(scan)
        shown = findings_filter(scan, base_layers=base_layers, exceptions=exceptions, labels=labels, **filters)
        try:
            page = max(1, int(request.GET.get("page", "1")))
        except ValueError:
            page = 1
        total = shown.count()
        context.update(
            counts=severity_counts(everything), total_all=everything.count(), total=total,
            fixable_all=everything.exclude(fixed_version="").count(),
            findings=[_row(f, exceptions, labels) for f in shown[(page - 1) * PAGE: page * PAGE]],
            page=page, pages=max(1, -(-total // PAGE)), excepted_all=everything.filter(exceptions.as_q()).count(),
            packages=scan.packages.count(),
        )
        if not request.htmx:  # beside an imported Trivy/Grype report: how the two scans compare
            context["compare_counts"] = comparison_counts(build=build, scan=scan)
    template = "compliance/_findings.html" if request.htmx else "compliance/report.html"
    return render(request, template, context)


def _row(finding, exceptions: FindingExceptions, labels):
    """A report row: the exception covering it, what added its package, and its vulnerability's
    impact page (an id from an imported report can hold any character; one the URL cannot carry
    gets no link)."""
    finding.exception = exceptions.covering(finding)
    finding.origin = labels.of(finding.package.layer_index)
    try:
        finding.impact_url = reverse("vulnerability-impact", args=[finding.vulnerability_id])
    except NoReverseMatch:
        finding.impact_url = ""
    return finding


@require_GET
def image_report_csv(request, pk):
    """The findings under the current filters, with identifying columns, for audits."""
    build = visible_build_or_404(request.user, pk)
    scan = ImageScan.objects.filter(build=build).first()
    if scan is None:
        return csv_response(f"build-{build.pk}-findings.csv", CSV_COLUMNS, [])
    image = build.published_reference or f"{build.quarantine_repository}:{build.quarantine_tag}"
    base_layers, exceptions = len(build.recipe.base.layer_digests), FindingExceptions(build)
    labels = finding_origin_labels(build, scan, base_layers=base_layers)

    def rows():
        for f in findings_filter(scan, base_layers=base_layers, exceptions=exceptions, labels=labels,
                                 **_report_filters(request)):
            origin = labels.of(f.package.layer_index)
            yield [image, build.digest, f.vulnerability_id, f.advisory.osv_id, f.severity, f.severity_source,
                   f.package.name, f.package.source_name, f.installed_version, f.fixed_version, f.package.layer_index,
                   origin.label, f.advisory.source if f.advisory.source in IMPORTED_SOURCES else "portal",
                   _status(exceptions.covering(f)), origin.kind]
    return csv_response(f"build-{build.pk}-findings.csv", CSV_COLUMNS, rows())


@require_GET
@cached_page
def vulnerability_impact(request, vulnerability_id):
    """Which current images and teams a vulnerability affects, with installed and fixed versions.
    The totals are counted by the database and the rows come a page at a time: a vulnerability on
    every image of a large fleet would otherwise load and render every one of its findings. The
    CSV export holds every row."""
    vulnerability_id = vulnerability_id.strip()[:120]
    teams = visible_teams(request.user)
    team, scoped = team_scope(teams, request.GET.get("team"))
    findings = vulnerability_findings(vulnerability_id, scoped)
    if request.GET.get("format") == "csv":
        return _vulnerability_impact_csv(vulnerability_id, findings, team)
    advisories = advisories_named(vulnerability_id, teams=teams).filter(withdrawn__isnull=True)[:10]
    page = Paginator(findings, PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "compliance/vulnerability.html", {
        "vulnerability_id": vulnerability_id, "findings": page.object_list, "page": page, "query": query.urlencode(),
        "advisories": advisories, **vulnerability_impact_counts(findings), "team_choices": teams, "team": team,
        "yours": _affected_split(request, vulnerability_id, team)})


def _vulnerability_impact_csv(vulnerability_id: str, findings, team: str) -> HttpResponse:
    """Every affected row, read in chunks (a widespread vulnerability has a row per image)."""
    rows = ([f.scan.build.team.slug, f.scan.build.published_reference or f.scan.build.quarantine_reference,
             f.scan.build.digest, f.package.name, f.installed_version, f.fixed_version, f.severity]
            for f in findings.iterator(chunk_size=2000))
    filename = f"{vulnerability_id}-{team}-impact.csv" if team else f"{vulnerability_id}-impact.csv"
    return csv_response(filename, ["team", "image", "digest", "package", "installed_version", "fixed_version", "severity"],
                        rows)


def _trend_weeks(request) -> int:
    """12, 26 or 52 from ?weeks=; anything else (a stale or edited link) shows the default."""
    value = request.GET.get("weeks", "")
    return int(value) if value.isdigit() and int(value) in PERIODS else PERIODS[0]


def _trend_context(request, teams, team: str) -> dict:
    """The verdict trend card over `teams`, already narrowed to the ?team= the page shows (`team`,
    which its period links keep)."""
    weeks = _trend_weeks(request)
    points = verdict_trend(teams, weeks=weeks)
    return {"trend": points, "trend_chart": trend_chart(points), "trend_weeks": weeks, "trend_periods": PERIODS,
            "trend_first": points[0], "trend_last": points[-1], "team": team}


def _fleet_filters(request, teams) -> dict:
    """The dashboard's and the images list's filters from the URL; a value they do not know (a
    stale or edited link) is left out rather than refused, and shown as not applied."""
    return {
        "team": team_scope(teams, request.GET.get("team"))[0],
        "state": request.GET.get("state", "") if request.GET.get("state") in IMAGE_STATES else "",
        "severities": [s for s in request.GET.getlist("severity") if s in SEVERITY_ORDER],
        "fixable": request.GET.get("fixable") == "1",
    }


IMAGES_CSV_COLUMNS = ["team", "image", "build", "published", "verdict", "verdict_at", *SEVERITY_ORDER, "fixable"]


def _image_state(build) -> str:
    if build.verdict_passed is None:
        return "unevaluated"
    if build.verdict_not_assessed:
        return "not-assessed"
    return "passing" if build.verdict_passed else "failing"


@require_GET
@cached_page
def fleet_images(request):
    """Current images with their verdict and counts, under the dashboard's filters (its tiles link here)."""
    teams = visible_teams(request.user)
    filters = _fleet_filters(request, teams)
    images = (current_images(teams, team=filters["team"], state=filters["state"], severities=filters["severities"],
                             fixable=filters["fixable"])
              .select_related("team", "recipe").only("pk", "published_reference", "published_at", "team__slug", "team__name",
                                                     "recipe__name", "recipe__team").order_by("team__slug", "recipe__name", "pk"))
    if request.GET.get("format") == "csv":
        return _fleet_images_csv(images)
    page = Paginator(images, PAGE).get_page(request.GET.get("page"))
    counts = image_counts([build.pk for build in page])
    rows = [(build, _image_state(build), counts[build.pk]) for build in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "compliance/images.html", {
        "rows": rows, "page": page, "filters": filters, "teams": teams, "states": IMAGE_STATES,
        "severity_order": SEVERITY_ORDER, "query": query.urlencode()})


def _fleet_images_csv(images) -> HttpResponse:
    builds = list(images)
    counts = image_counts([build.pk for build in builds])
    return csv_response("images.csv", IMAGES_CSV_COLUMNS, (
        [build.team.slug, build.recipe.name, build.pk, build.published_reference, _image_state(build),
         build.verdict_at.isoformat() if build.verdict_at else "",
         *[counts[build.pk][s] for s in SEVERITY_ORDER], counts[build.pk]["fixable"]] for build in builds))


EXPIRING_LISTED = 20
EXCEPTION_FIGURES = ("pending", "expiring", "active")  # tabs of the exceptions register
OVERVIEW_CSV_COLUMNS = ["scope", "team", "images", "scanned", *[state.replace("-", "_") for state in IMAGE_STATE_FILTERS],
                        *[column for s in SEVERITY_ORDER for column in (s, f"{s}_fixable")], "fixable_critical_high",
                        *[f"exceptions_{tab}" for tab in EXCEPTION_FIGURES]]


@require_GET
@cached_page
def security_dashboard(request):
    """The overview of the current images and the exceptions of every team the user may see, or
    of one with ?team= (the tiles, the trend card, the links to the lists and the CSV alike)."""
    teams = visible_teams(request.user)
    team, scoped = team_scope(teams, request.GET.get("team"))
    if request.GET.get("format") == "csv":
        return _overview_csv(request.user, scoped, team)
    if request.htmx and request.htmx.target == "verdict-trend":
        # The period selector re-renders only its card.
        response = render(request, "compliance/_verdict_trend.html", _trend_context(request, scoped, team))
    else:
        now = timezone.now()
        exceptions = exceptions_of_team(exceptions_visible_to(request.user), team)
        expiring = exceptions.filter(exception_tab_q("expiring", now))
        response = render(request, "compliance/dashboard.html", {
            "summary": fleet_summary(teams, team=team), "severity_order": SEVERITY_ORDER, "teams": teams,
            "last_import": ImportRun.objects.filter(status=ImportRun.Status.DONE).first(),
            "owed": reevaluations_owed(teams),
            "expiring": expiring.select_related("team").order_by("expires_at")[:EXPIRING_LISTED],
            "expiring_count": expiring.count(),
            "pending_exceptions": exceptions.filter(exception_tab_q("pending", now)).count(),
            **_trend_context(request, scoped, team),
        })
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _overview_csv(user, teams, team: str) -> HttpResponse:
    """The overview's figures, a row per team of the scope and a row for the whole scope: what
    the tiles show for the same filters (the exceptions' include the global ones, which no team
    owns, unless one team is chosen, as the tiles do)."""
    figures = fleet_figures_by_team(teams)
    exceptions = exception_counts_by_team(exceptions_of_team(exceptions_visible_to(user), team), timezone.now(),
                                          EXCEPTION_FIGURES)
    total = {key: sum(f[key] for f in figures.values()) for key in ("images", "scanned", *IMAGE_STATE_FILTERS)}
    total["counts"] = {s: {n: sum(f["counts"][s][n] for f in figures.values()) for n in ("total", "fixable")}
                       for s in SEVERITY_ORDER}
    all_exceptions = {tab: sum(row[tab] for row in exceptions.values()) for tab in EXCEPTION_FIGURES}

    def row(scope, slug, counted, excepted):
        counts = counted["counts"]
        return [scope, slug, counted["images"], counted["scanned"], *[counted[state] for state in IMAGE_STATE_FILTERS],
                *[counts[s][n] for s in SEVERITY_ORDER for n in ("total", "fixable")],
                counts["Critical"]["fixable"] + counts["High"]["fixable"],
                *[excepted.get(tab, 0) for tab in EXCEPTION_FIGURES]]
    rows = [row("team", slug, counted, exceptions.get(slug, {})) for slug, counted in sorted(figures.items())]
    rows.append(row("all", team, total, all_exceptions))
    return csv_response(f"security-overview-{team}.csv" if team else "security-overview.csv", OVERVIEW_CSV_COLUMNS, rows)


@require_GET
def image_sbom(request, pk):
    """The image's SBOM as CycloneDX JSON (1.6), or SPDX 2.3 JSON with ?format=spdx, for other tools and audits."""
    return sbom_response(visible_build_or_404(request.user, pk), request.GET.get("format", ""))


def _affected_split(request, vulnerability_id, team: str):
    images = affected_images(request.user, vulnerability_id, team=team)
    return [i for i in images if i.fixable], [i for i in images if not i.fixable]


def _action_team(request) -> str:
    """The CVE page's ?team= on its actions' pages (the form posts back to the same URL, so the
    images listed are the images acted on): "" (all) for a team the user may not see."""
    return team_scope(visible_teams(request.user), request.GET.get("team"))[0]


def _impact_page(vulnerability_id: str, team: str):
    url = reverse("vulnerability-impact", args=[vulnerability_id])
    return redirect(f"{url}?{urlencode({'team': team})}" if team else url)


def _outcome_messages(request, outcome) -> None:
    for line in outcome.done:
        messages.success(request, line)
    for line in outcome.skipped:
        messages.info(request, f"Skipped {line}")
    for line in outcome.failed:
        messages.error(request, f"Not done for {line}")


def vulnerability_rebuild(request, vulnerability_id):
    """Rebuild, without reusing an identical composition, every image of your teams that a fixed
    version of this vulnerability would cure: the list first (GET), then the builds (POST)."""
    vulnerability_id, team = vulnerability_id.strip()[:120], _action_team(request)
    fixable, _ = _affected_split(request, vulnerability_id, team)
    if request.method == "POST":
        outcome = vulnerability_fixes_rebuild(user=request.user, vulnerability_id=vulnerability_id, team=team)
        _outcome_messages(request, outcome)
        if not (outcome.done or outcome.skipped or outcome.failed):
            messages.info(request, "None of your teams' current images has a fix to rebuild for.")
        return _impact_page(vulnerability_id, team)
    return render(request, "compliance/vulnerability_rebuild.html",
                  {"vulnerability_id": vulnerability_id, "images": fixable, "team": team})


def vulnerability_exceptions(request, vulnerability_id):
    """Request an exception for this vulnerability on every image of your teams that has no fix."""
    vulnerability_id, team = vulnerability_id.strip()[:120], _action_team(request)
    _, unfixed = _affected_split(request, vulnerability_id, team)
    values = request.POST if request.method == "POST" else {}
    context = {"vulnerability_id": vulnerability_id, "images": unfixed, "values": values, "errors": {},
               "reasons": PolicyException.Reason.choices, "team": team}
    if request.method == "POST":
        try:
            outcome = vulnerability_exceptions_request(
                user=request.user, vulnerability_id=vulnerability_id, reason=values.get("reason", ""),
                justification=values.get("justification", ""), expires_at=expiry_from_date(values.get("expires_at")),
                ticket=values.get("ticket", ""), team=team)
        except ValidationError as error:
            context["errors"] = {k: " ".join(v) for k, v in error.message_dict.items()}
            return render(request, "compliance/vulnerability_exceptions.html", context, status=400)
        _outcome_messages(request, outcome)
        return _impact_page(vulnerability_id, team)
    return render(request, "compliance/vulnerability_exceptions.html", context)
