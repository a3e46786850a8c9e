"""The weekly verdict trend in the REST API: the same numbers as the dashboard card, for the
same teams (a reviewer sees every team, anyone else their own), of one of them with ?team=."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance.trend.selectors import PERIODS, verdict_trend
from portal.rbac import team_scope, visible_teams


class WeekPointSerializer(serializers.Serializer):
    week = serializers.CharField(source="label", help_text="ISO week, e.g. 2026-W48")
    start = serializers.DateField(help_text="The week's Monday")
    counted_at = serializers.DateTimeField(source="end", help_text="The week's end, or now for the current week")
    compliant = serializers.IntegerField()
    noncompliant = serializers.IntegerField()


class VerdictTrendView(APIView):
    @extend_schema(parameters=[OpenApiParameter("weeks", int, enum=list(PERIODS), description="Default 12"),
                               OpenApiParameter("team", str, description="Only this team's images (by slug). A team "
                                                "you may not see is ignored: every team you may see is counted.")],
                   responses={200: WeekPointSerializer(many=True)},
                   description="Published images compliant and non-compliant at the end of each ISO week, oldest first.")
    def get(self, request):
        weeks = request.query_params.get("weeks", str(PERIODS[0]))
        if not weeks.isdigit() or int(weeks) not in PERIODS:
            raise ValidationError({"weeks": f"One of {', '.join(map(str, PERIODS))}."})
        _, teams = team_scope(visible_teams(request.user), request.query_params.get("team"))
        points = verdict_trend(teams, weeks=int(weeks))
        return Response(WeekPointSerializer(points, many=True).data)
