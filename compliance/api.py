"""The SBOM of a build's image in the REST API (the same document as the page's download)."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from builds.selectors import visible_build_or_404
from compliance.sbom_export import sbom_response

FORMATS = ["cyclonedx", "spdx"]


class SbomFormatNegotiation(DefaultContentNegotiation):
    """`?format=` names the SBOM's format here: DRF would read it as the name of a renderer and
    answer 404 to `?format=spdx`. Errors are JSON; the SBOM is its own response."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class BuildSbomView(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = SbomFormatNegotiation

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=FORMATS, description="Default CycloneDX")],
                   responses={(200, "application/vnd.cyclonedx+json"): dict, (200, "application/spdx+json"): dict},
                   operation_id="builds_sbom_retrieve")
    def get(self, request, pk: int):
        """The image's SBOM as CycloneDX JSON (SPDX with ?format=spdx); 404 until it was scanned."""
        wanted = request.query_params.get("format", "cyclonedx")
        if wanted not in FORMATS:
            raise ValidationError({"format": f"One of {', '.join(FORMATS)} (default cyclonedx)."})
        return sbom_response(visible_build_or_404(request.user, pk), wanted)
