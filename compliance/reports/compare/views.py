"""The scanner comparison page and its CSV: our findings beside an imported Trivy or Grype report's,
with the image report's visibility (visible_build_or_404). Filters live in the URL (tool, group,
reason, q); the page, its htmx swaps and the CSV read them through the same rows_filter."""
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from builds.selectors import visible_build_or_404
from compliance.models import ImageScan
from compliance.reports.compare.pairing import GROUPS, REASONS, row_origin, rows_filter
from compliance.reports.compare.selectors import NoComparison, origin_labeller, report_comparison, tools_imported
from portal.csv_export import csv_response
from portal.page_cache.pages import cached_page

PAGE = 50
CSV_COLUMNS = ["image", "digest", "tool", "group", "vulnerability", "our_advisory", "tool_advisory", "package",
               "source_package", "installed_version", "our_severity", "tool_severity", "our_fixed_version",
               "tool_fixed_version", "origin", "status", "reason", "reason_detail", "origin_label"]


def compare_filters(request, tools: list[str]) -> dict:
    """The filters from the URL; a value the page does not know (a stale or edited link) is left out."""
    tool = request.GET.get("tool", "")
    return {
        "tool": tool if tool in tools else (tools[0] if tools else ""),
        "group": request.GET.get("group", "") if request.GET.get("group") in GROUPS else "",
        "reason": request.GET.get("reason", "") if request.GET.get("reason") in REASONS else "",
        "q": request.GET.get("q", "").strip()[:100],
    }


def _comparison(build, filters):
    """(comparison or None, the reason there is none, the filtered rows)."""
    if not filters["tool"]:
        return None, "No Trivy or Grype report has been imported for this image.", []
    try:
        comparison = report_comparison(build=build, tool=filters["tool"])
    except NoComparison as missing:
        return None, str(missing), []
    rows = rows_filter(comparison.rows, group=filters["group"], reason=filters["reason"], q=filters["q"])
    return comparison, "", rows


@require_GET
@cached_page
def image_report_compare(request, pk):
    build = visible_build_or_404(request.user, pk)
    tools = tools_imported(ImageScan.objects.filter(build=build).first())
    filters = compare_filters(request, tools)
    comparison, missing, rows = _comparison(build, filters)
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    origin_label = origin_labeller(build)
    pages = max(1, -(-len(rows) // PAGE))
    context = {
        "build": build, "tools": tools, "filters": filters, "comparison": comparison, "missing": missing,
        "counts": comparison.counts() if comparison else {}, "reason_counts": comparison.reason_counts() if comparison else {},
        "total": len(rows), "total_all": len(comparison.rows) if comparison else 0, "page": page, "pages": pages,
        "rows": [(row, origin_label(row)) for row in rows[(page - 1) * PAGE: page * PAGE]],
        "groups": GROUPS, "reasons": REASONS, "tool_label": filters["tool"].capitalize(),
    }
    template = "compliance/_compare_rows.html" if request.htmx else "compliance/compare.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
def image_report_compare_csv(request, pk):
    """The rows under the current filters, with the image, origin, status and reason, for audits."""
    build = visible_build_or_404(request.user, pk)
    filters = compare_filters(request, tools_imported(ImageScan.objects.filter(build=build).first()))
    _, _, rows = _comparison(build, filters)
    image = build.published_reference or f"{build.quarantine_repository}:{build.quarantine_tag}"
    base_layers, origin_label = len(build.recipe.base.layer_digests), origin_labeller(build)

    def csv_row(row):
        ours, theirs, finding = row.ours, row.theirs, row.finding
        return [image, build.digest, filters["tool"], row.group, finding.vulnerability_id, ours.advisory_id if ours else "",
                theirs.advisory_id if theirs else "", finding.name, finding.source_name, finding.version,
                ours.severity if ours else "", theirs.severity if theirs else "", ours.fixed_version if ours else "",
                theirs.fixed_version if theirs else "", row_origin(row, base_layers), row.status, row.reason, row.detail,
                origin_label(row)]
    return csv_response(f"build-{build.pk}-compare-{filters['tool'] or 'none'}.csv", CSV_COLUMNS, map(csv_row, rows))
