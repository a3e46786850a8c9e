"""GET /api/builds/{id}/reports/compare/?tool=trivy: the scanner comparison in the REST API.

Same checks as the reports list beside it (compliance/reports/api.py): a build outside the caller's
visible teams is 404; whoever may see it may read this. The rows are the page's and the CSV's
(rows_filter), paginated as the other lists (?limit=, ?offset=), with the group counts.
"""
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from builds.models import Build
from compliance.models import ImageScan
from compliance.reports.compare.pairing import GROUPS, REASONS, row_origin, rows_filter
from compliance.reports.compare.selectors import NoComparison, origin_labeller, report_comparison, tools_imported
from compliance.reports.parse import TOOLS
from portal.api_schema import ErrorSerializer
from portal.pagination import BoundedLimitOffsetPagination
from portal.rbac import visible_teams


class CompareFindingSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The finding's id")
    vulnerability_id = serializers.CharField()
    advisory = serializers.CharField(source="advisory_id", help_text="The advisory's own id (DEBIAN-CVE-..., GHSA-...)")
    aliases = serializers.ListField(child=serializers.CharField())
    package = serializers.CharField(source="name")
    source_package = serializers.CharField(source="source_name")
    installed_version = serializers.CharField(source="version")
    severity = serializers.CharField()
    fixed_version = serializers.CharField(help_text="Empty: no fix known")


class CompareRowSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=list(GROUPS), help_text="both, ours (only ours), other (only the tool)")
    vulnerability_id = serializers.CharField()
    package = serializers.CharField()
    origin = serializers.ChoiceField(choices=["base", "added", "report-only"],
                                     help_text="report-only: a package our scan did not read")
    origin_label = serializers.CharField(help_text="What added the package, as the image report names it "
                                                   "('option wget 1', 'Dockerfile line 7: RUN ...'), or 'not in our SBOM'")
    status = serializers.CharField(help_text="Open, or 'Excepted: exception N until YYYY-MM-DD'")
    reason = serializers.ChoiceField(choices=["", *REASONS], help_text="Why only one side has it, or severity-differs for a pair")
    reason_label = serializers.CharField()
    detail = serializers.CharField(help_text="What the data says: versions, advisories, packages")
    severity_differs = serializers.BooleanField()
    ours = CompareFindingSerializer(allow_null=True)
    theirs = CompareFindingSerializer(allow_null=True, help_text="The tool's finding")


class CompareCountsSerializer(serializers.Serializer):
    both = serializers.IntegerField()
    ours = serializers.IntegerField()
    other = serializers.IntegerField()
    severity_differs = serializers.IntegerField()


class ComparisonSerializer(serializers.Serializer):
    tool = serializers.ChoiceField(choices=list(TOOLS))
    tools = serializers.ListField(child=serializers.ChoiceField(choices=list(TOOLS)), help_text="Tools with a report imported")
    counts = CompareCountsSerializer(help_text="The whole comparison's groups, whatever the filters")
    count = serializers.IntegerField(help_text="Rows under the filters")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CompareRowSerializer(many=True)


def _choice(request, name: str, choices) -> str:
    value = request.query_params.get(name, "")
    if value and value not in choices:
        raise ValidationError({name: f"One of {', '.join(choices)}."})
    return value


class BuildReportCompareView(APIView):
    @extend_schema(
        operation_id="builds_reports_compare",
        parameters=[
            OpenApiParameter("tool", str, enum=list(TOOLS), description="Default: the only tool with a report; trivy when both have one"),
            OpenApiParameter("group", str, enum=list(GROUPS), description="both, ours or other"),
            OpenApiParameter("reason", str, enum=list(REASONS)),
            OpenApiParameter("q", str, description="Text in the vulnerability, advisory or package name"),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1}, description="Rows per page (default 50)"),
            OpenApiParameter("offset", {"type": "integer", "minimum": 0}),
        ],
        responses={200: ComparisonSerializer,
                   403: OpenApiResponse(ErrorSerializer, description="Your credentials may not read this"),
                   404: OpenApiResponse(ErrorSerializer, description="No such build among those you may see, "
                                        "or nothing to compare (no finished scan, no report of the tool)")},
        description="Our findings on the build's image beside an imported Trivy or Grype report's: found by both, "
                    "only by ours, only by the tool, each unpaired row with the reason the data gives.")
    def get(self, request, build_id=None):
        build = Build.objects.filter(pk=build_id, team__in=visible_teams(request.user)).first()
        if build is None:
            raise NotFound("No such build among your teams' builds.")
        tool, group = _choice(request, "tool", TOOLS), _choice(request, "group", GROUPS)
        reason = _choice(request, "reason", REASONS)
        tools = tools_imported(ImageScan.objects.filter(build=build).first())
        if not tool:
            if not tools:
                raise NotFound("No Trivy or Grype report has been imported for this image.")
            tool = tools[0]
        try:
            comparison = report_comparison(build=build, tool=tool)
        except NoComparison as missing:
            raise NotFound(str(missing))
        rows = rows_filter(comparison.rows, group=group, reason=reason, q=request.query_params.get("q", "").strip())
        paginator = BoundedLimitOffsetPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        base_layers, origin_label = len(build.recipe.base.layer_digests), origin_labeller(build)
        results = [{"group": row.group, "vulnerability_id": row.finding.vulnerability_id, "package": row.finding.name,
                    "origin": row_origin(row, base_layers), "origin_label": origin_label(row), "status": row.status,
                    "reason": row.reason,
                    "reason_label": row.reason_label, "detail": row.detail, "severity_differs": row.severity_differs,
                    "ours": row.ours, "theirs": row.theirs} for row in page]
        return Response({"tool": tool, "tools": tools, "counts": comparison.counts(), "count": paginator.count,
                         "next": paginator.get_next_link(), "previous": paginator.get_previous_link(),
                         "results": CompareRowSerializer(results, many=True).data})
