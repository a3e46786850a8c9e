"""The SBOM of a build's image in the REST API (the same document as the page's download)."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.views import APIView

from builds.selectors import visible_build_or_404
from compliance.sbom_export import sbom_response


class BuildSbomView(APIView):
    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["cyclonedx", "spdx"], description="Default CycloneDX")],
                   responses={(200, "application/vnd.cyclonedx+json"): dict, (200, "application/spdx+json"): dict},
                   operation_id="builds_sbom_retrieve")
    def get(self, request, pk: int):
        """The image's SBOM as CycloneDX JSON (SPDX with ?format=spdx); 404 until it was scanned."""
        return sbom_response(visible_build_or_404(request.user, pk), request.query_params.get("format", ""))
