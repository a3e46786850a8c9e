"""Builds in the REST API: status, log, cancel, publish (recipes: builds/recipes/api.py), with the
same permission checks as the pages (portal.rbac, and the gate for publication)."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from adapters.registry import RegistryError
from builds.models import Build, BuildLogChunk
from builds.serializers import BuildSerializer
from builds.services import build_cancel, build_publish
from compliance.door import GateClosed
from portal.rbac import visible_teams


class BuildViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BuildSerializer

    def get_queryset(self):
        return Build.objects.filter(team__in=visible_teams(self.request.user)).prefetch_related("verdicts")

    @extend_schema(parameters=[OpenApiParameter("after", int, description="Return chunks after this sequence number")],
                   responses={200: dict})
    @action(detail=True, methods=["get"])
    def log(self, request, pk=None):
        build = self.get_object()
        try:
            after = int(request.query_params.get("after", -1))
        except ValueError:
            raise ValidationError({"after": "must be an integer"})
        chunks = BuildLogChunk.objects.filter(build=build, seq__gt=after).order_by("seq")[:500]
        return Response({
            "status": build.status,
            "chunks": [{"seq": c.seq, "first_line": c.first_line, "step": c.step, "text": c.text} for c in chunks],
        })

    @extend_schema(request=None, responses={200: BuildSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued build at once, or stop a running one within seconds."""
        build = build_cancel(user=request.user, build=self.get_object())
        return Response(BuildSerializer(build).data)

    @extend_schema(request=None, responses={200: BuildSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        build = self.get_object()
        try:
            build_publish(user=request.user, build=build)  # 403 (PermissionDenied) for anyone outside the team
        except GateClosed as closed:
            return Response({"detail": str(closed)}, status=status.HTTP_409_CONFLICT)
        except RegistryError as error:
            return Response({"detail": f"Not published: the registry answered {error}. Nothing was changed; retry."},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "30"})
        build.refresh_from_db()
        return Response(BuildSerializer(build).data)
