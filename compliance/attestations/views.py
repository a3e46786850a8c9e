"""The portal's public keys, where verifiers fetch them (no login: public keys are public), and the
page that explains how to verify an image."""
import json

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from adapters.factory import registry_host
from adapters.registry import RegistryError
from compliance.attestations.keyring import keys_document
from compliance.attestations.predicates import (
    CYCLONEDX_PREDICATE_TYPE,
    SLSA_PROVENANCE_TYPE,
    VERDICT_PREDICATE_TYPE,
    VERDICT_SCHEMA_PATH,
)
from compliance.attestations.verification import ReferenceNotFound, ReferenceRefused, reference_verify


@login_not_required
@require_GET
def well_known_keys(request):
    """Every key with its status (JSON), for verifiers that keep a trust list."""
    response = JsonResponse(keys_document())
    response["Cache-Control"] = "public, max-age=300"
    return response


@login_not_required
@require_GET
def well_known_public_keys_pem(request):
    """The keys a signature may be made by today (active, and retiring ones still in their overlap),
    PEM one after another: what `cosign verify --key` and Kyverno's `publicKeys` take."""
    document = keys_document()
    text = "".join(k["publicKey"] for k in document["keys"] if k["status"] in ("active", "retiring"))
    response = HttpResponse(text, content_type="application/x-pem-file")
    response["Cache-Control"] = "public, max-age=300"
    return response


@login_not_required
@require_GET
def verdict_schema(request):
    return HttpResponse(VERDICT_SCHEMA_PATH.read_text(), content_type="application/schema+json")


@require_GET
def signing_keys_page(request):
    """The keys, how to verify an image with them, and a form that verifies one here."""
    report, problem, ref = None, "", request.GET.get("ref", "").strip()[:300]
    if ref:
        try:
            report = reference_verify(ref, user=request.user)
        except (ReferenceRefused, ReferenceNotFound) as error:
            problem = str(error)
        except RegistryError as error:
            problem = f"The registry could not be read: {error}"
    keys = keys_document()["keys"]
    return render(request, "compliance/signing_keys.html", {
        "keys": keys, "report": report, "problem": problem, "ref": ref, "registry": registry_host(),
        "portal_url": settings.PORTAL_URL, "verdict_type": VERDICT_PREDICATE_TYPE, "provenance_type": SLSA_PROVENANCE_TYPE,
        "sbom_type": CYCLONEDX_PREDICATE_TYPE, "verdict_json": json.dumps(report.verdict, indent=2) if report and report.verdict else "",
    })
