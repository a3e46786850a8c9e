"""Compliance in the REST API: Trivy/Grype reports imported for a build's image.

Same checks as builds/api.py: a build outside the user's visible teams is 404; reviewers read,
only members of the owning team write.
"""
import json

from django.db.models import Count
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from builds.models import Build
from compliance.models import Finding
from compliance.reports.parse import TOOLS
from compliance.reports.store import ImportRefused, ReportError, external_report_import
from portal.api_schema import ErrorSerializer
from portal.rbac import teams_of, visible_teams

MAX_REPORT_BYTES = 50 * 1024 * 1024


REPORT_MISSING = "Send the report inline (report) in a JSON body, or as a file upload (file) in a multipart body."


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ReportField(serializers.JSONField):
    """The report as a JSON object (its JSON text is read too, for clients that send it so)."""


class ReportInlineInput(serializers.Serializer):
    """A JSON body: the report inline."""

    tool = serializers.ChoiceField(TOOLS)
    report = ReportField(help_text="The tool's JSON report", error_messages={"required": REPORT_MISSING})
    force = serializers.BooleanField(default=False, help_text="Store it even if the report names another digest")


class ReportUploadInput(serializers.Serializer):
    """A multipart body: the report as a file."""

    tool = serializers.ChoiceField(TOOLS)
    file = serializers.FileField(help_text="The tool's JSON report", error_messages={"required": REPORT_MISSING})
    force = serializers.BooleanField(default=False, help_text="Store it even if the report names another digest")


class ToolFindingsSerializer(serializers.Serializer):
    tool = serializers.CharField()
    findings = serializers.IntegerField()
    by_severity = serializers.DictField(child=serializers.IntegerField(), help_text="Severity -> number of findings")


class ReportVerdict(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["pass", "blocked", "not-assessed"])
    passed = serializers.BooleanField()


class ReportImportResult(serializers.Serializer):
    scan = serializers.IntegerField()
    tool = serializers.CharField()
    findings = serializers.IntegerField()
    replaced = serializers.IntegerField(help_text="Findings of the same tool replaced")
    packages_created = serializers.IntegerField()
    advisories_created = serializers.IntegerField()
    verdict = ReportVerdict(allow_null=True, help_text="The image's verdict evaluated with the report's findings "
                            "(null while the image has none yet)")


class BuildReportViewSet(viewsets.ViewSet):
    """/api/builds/{build_id}/reports/: GET counts per tool, POST imports a report."""

    parser_classes = [JSONParser, MultiPartParser]

    def _build(self, request, build_id) -> Build:
        build = Build.objects.filter(pk=build_id, team__in=visible_teams(request.user)).select_related("team").first()
        if build is None:
            raise NotFound("No such build among your teams' builds.")
        return build

    @extend_schema(operation_id="builds_reports_list", responses={200: ToolFindingsSerializer(many=True)})
    def list(self, request, build_id=None):
        build = self._build(request, build_id)
        rows = (Finding.objects.filter(scan__build=build, advisory__source__in=TOOLS)
                .values("advisory__source", "severity").annotate(n=Count("id")))
        tools = {}
        for row in rows:
            entry = tools.setdefault(row["advisory__source"], {"tool": row["advisory__source"], "findings": 0,
                                                                "by_severity": {}})
            entry["findings"] += row["n"]
            entry["by_severity"][row["severity"]] = row["n"]
        return Response(sorted(tools.values(), key=lambda t: t["tool"]))

    @extend_schema(request={"application/json": ReportInlineInput, "multipart/form-data": ReportUploadInput},
                   responses={201: ReportImportResult, 409: ErrorSerializer})
    def create(self, request, build_id=None):
        build = self._build(request, build_id)
        if build.team not in teams_of(request.user):
            raise PermissionDenied("Only members of the owning team may import reports for this image.")
        upload = request.content_type.startswith("multipart/")
        given = (ReportUploadInput if upload else ReportInlineInput)(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            result = external_report_import(build=build, tool=given.validated_data["tool"], actor=request.user,
                                            data=_report(given.validated_data), force=given.validated_data["force"])
        except ReportError as error:
            raise ValidationError({"detail": str(error)})
        except ImportRefused as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        return Response(result.to_dict(), status=status.HTTP_201_CREATED)


def _report(values: dict):
    upload = values.get("file")
    if upload is None:
        report = values["report"]
        return _loads(report, "report") if isinstance(report, str) else report
    if upload.size > MAX_REPORT_BYTES:
        raise ValidationError({"file": f"The report is larger than {MAX_REPORT_BYTES // (1024 * 1024)} MiB."})
    return _loads(upload.read(), "file")


def _loads(text, field: str):
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationError({field: f"Not valid JSON: {error}"})
