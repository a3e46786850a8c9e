"""The SBOM of a build's image as a download: CycloneDX 1.6 JSON, or SPDX 2.3 JSON with
format "spdx", for the image page and the API alike."""
import json

from django.http import Http404, HttpResponse
from django.utils import timezone

from compliance.models import ImageScan
from compliance.sbom.models import ImageFacts
from compliance.sbom.spdx import spdx_document
from compliance.scans import scan_cyclonedx


def sbom_response(build, sbom_format: str = "") -> HttpResponse:
    scan = ImageScan.objects.filter(build=build, status=ImageScan.Status.DONE).first()
    if scan is None:
        raise Http404("This image has not been scanned, so it has no SBOM yet.")
    facts = ImageFacts.from_dict(scan.facts)
    if sbom_format == "spdx":
        text = json.dumps(spdx_document(facts, created=timezone.now(), tool="image-portal"), indent=2)
        response = HttpResponse(text, content_type="application/spdx+json")
        response["Content-Disposition"] = f'attachment; filename="{build.recipe.name}-build-{build.pk}.spdx.json"'
        return response
    response = HttpResponse(scan_cyclonedx(scan), content_type="application/vnd.cyclonedx+json")
    response["Content-Disposition"] = f'attachment; filename="{build.recipe.name}-build-{build.pk}.cdx.json"'
    return response
