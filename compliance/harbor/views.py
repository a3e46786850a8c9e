"""Harbor's pluggable scanner adapter API (spec v1.1 and v1.2), served under /harbor/api/v1/.

Plain Django views: the spec's vendor media types and error documents are simpler to answer
exactly by hand than through DRF's negotiation. Harbor authenticates with the bearer token of
HARBOR_ADAPTER_TOKEN; an empty setting disables the adapter. Status codes follow the spec:
400 unreadable JSON or wrong JSON types, 422 invalid fields, 501 a capability or report type
this scanner lacks, 302 + Refresh-After while a report is being made, 500 a failed scan.
"""
import functools
import hmac
import json
import re
import tomllib
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from compliance.harbor import reports
from compliance.models import ImageScan, ImportRun
from compliance.policy.evaluation import data_max_age_days
from compliance.policy.ruleset import ruleset_for
from compliance.sbom.cyclonedx import cyclonedx_json
from compliance.sbom.models import ImageFacts
from compliance.sbom.spdx import spdx_document
from compliance.tasks import registry_artifact_scan_queue
from compliance.vulndb.coverage import scan_coverage
from compliance.vulndb.store import database_version

REFRESH_AFTER_SECONDS = 5
# A scan still pending after this long lost its worker: Harbor is told it failed rather than poll forever.
PENDING_DEADLINE = timedelta(hours=2)
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_PRODUCES = {"vulnerability": set(reports.VULNERABILITY_REPORTS), "sbom": {reports.SBOM_1_0}}


@functools.cache
def scanner() -> dict[str, str]:
    """The Scanner object: the portal's name and its version from pyproject.toml."""
    try:
        version = tomllib.loads((settings.BASE_DIR / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = "unknown"
    return {"name": "image-portal", "vendor": "Image portal", "version": version}


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse(reports.error(message), status=status, content_type=reports.ERROR)


def adapter_view(methods: tuple[str, ...]):
    """Bearer-token check (or 503 when the adapter is off), then the HTTP method, then the view."""
    def decorate(view):
        @csrf_exempt  # Harbor is a machine client with a token, not a browser with a session
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            token = settings.HARBOR_ADAPTER_TOKEN
            if not token:
                return _error(503, "The Harbor scanner adapter is disabled: set HARBOR_ADAPTER_TOKEN on the portal "
                                   "and give Harbor the same value as the scanner's bearer token.")
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
                response = _error(401, "A valid bearer token is required (the scanner's credential in Harbor).")
                response["WWW-Authenticate"] = 'Bearer realm="image-portal scanner adapter"'
                return response
            if request.method not in methods:
                response = _error(405, f"Method {request.method} is not allowed here.")
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)
        return wrapper
    return decorate


@adapter_view(("GET",))
def metadata(request):
    # An Accept naming neither version still gets the newest: Harbor only reads the body.
    wanted = reports.negotiate(request.headers.get("Accept", ""), [reports.METADATA_1_1, reports.METADATA_1_0]) \
        or reports.METADATA_1_1
    last = ImportRun.objects.filter(status=ImportRun.Status.DONE).order_by("-pk").first()
    body = reports.metadata(scanner=scanner(), database_version=database_version(),
                            database_updated=last.finished if last else None, version=wanted)
    return JsonResponse(body, content_type=wanted)


class ScanRequestInvalid(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def scan_request_parse(body: bytes) -> tuple[str, str, dict[str, str]]:
    """(registry URL, authorization, artifact) of a ScanRequest, or ScanRequestInvalid with the
    spec's status. Fields Harbor adds beyond the spec (insecure, namespace_id, size) are ignored."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ScanRequestInvalid(400, f"The body is not valid JSON: {error}") from error
    data = _object(data, "The request")
    registry, artifact = (_object(data.get(name), name, required=True) for name in ("registry", "artifact"))
    url = _string(registry, "url", "registry.url", required=True)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ScanRequestInvalid(422, f"registry.url must be an http(s) URL, not {url!r}.")
    authorization = _string(registry, "authorization", "registry.authorization")
    if authorization and authorization.split(" ", 1)[0].lower() not in ("basic", "bearer"):
        raise ScanRequestInvalid(422, "registry.authorization must be 'Basic <credentials>' or 'Bearer <token>'.")
    repository = _string(artifact, "repository", "artifact.repository", required=True)
    if not _REPOSITORY.fullmatch(repository):
        raise ScanRequestInvalid(422, f"artifact.repository {repository!r} is not a repository name.")
    digest = _string(artifact, "digest", "artifact.digest", required=True)
    if not _DIGEST.fullmatch(digest):
        raise ScanRequestInvalid(422, f"artifact.digest must be sha256:<64 hex digits>, not {digest!r}.")
    mime_type = _string(artifact, "mime_type", "artifact.mime_type")
    if mime_type and mime_type not in reports.CONSUMES:
        raise ScanRequestInvalid(422, f"artifact.mime_type {mime_type!r} is not scanned; this scanner consumes "
                                      + " and ".join(reports.CONSUMES) + ".")
    _check_capabilities(data.get("enabled_capabilities"))
    echo = {"repository": repository, "digest": digest}
    tag = _string(artifact, "tag", "artifact.tag")
    echo.update({key: value for key, value in (("tag", tag), ("mime_type", mime_type)) if value})
    return url, authorization, echo


def _object(value, label: str, *, required: bool = False) -> dict:
    if value is None and required:
        raise ScanRequestInvalid(422, f"{label} is required.")
    if not isinstance(value, dict):
        raise ScanRequestInvalid(400, f"{label} must be a JSON object.")
    return value


def _string(data: dict, key: str, label: str, *, required: bool = False) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):  # null included: the schema says string
        raise ScanRequestInvalid(400, f"{label} must be a string.")
    if not value.strip() and required:
        raise ScanRequestInvalid(422, f"{label} is required.")
    return value.strip()


def _check_capabilities(enabled) -> None:
    """v1.2's enabled_capabilities: absent means all; asking for what is not produced is 501."""
    if enabled is None:
        return
    if not isinstance(enabled, list) or not all(isinstance(item, dict) for item in enabled):
        raise ScanRequestInvalid(400, "enabled_capabilities must be a list of objects.")
    for item in enabled:
        kind = _string(item, "type", "enabled_capabilities[].type", required=True)
        if kind not in _PRODUCES:
            raise ScanRequestInvalid(422, f"enabled_capabilities[].type must be vulnerability or sbom, not {kind!r}.")
        produces = item.get("produces_mime_types", [])
        if not isinstance(produces, list) or not all(isinstance(m, str) for m in produces):
            raise ScanRequestInvalid(400, "enabled_capabilities[].produces_mime_types must be a list of strings.")
        # 501 only when nothing asked for can be made: a report type too many must not stop the scan.
        if produces and not set(produces) & _PRODUCES[kind]:
            raise ScanRequestInvalid(501, f"This scanner does not produce {', '.join(produces)} for {kind}.")
        parameters = item.get("parameters")
        parameters = {} if parameters is None else parameters  # nullable in the spec, but no other falsy value
        if not isinstance(parameters, dict):
            raise ScanRequestInvalid(400, "enabled_capabilities[].parameters must be an object.")
        media_types = parameters.get("sbom_media_types", [])
        if not isinstance(media_types, list) or not all(isinstance(m, str) for m in media_types):
            raise ScanRequestInvalid(400, "enabled_capabilities[].parameters.sbom_media_types must be a list of strings.")
        unknown = [m for m in media_types if m not in (reports.CYCLONEDX, reports.SPDX)]
        if unknown:
            raise ScanRequestInvalid(422, f"sbom_media_types must name {reports.CYCLONEDX} or {reports.SPDX}, "
                                          f"not {', '.join(map(str, unknown))}.")
        if media_types and not set(media_types) & set(reports.SBOM_MEDIA_TYPES):
            raise ScanRequestInvalid(501, f"This scanner does not produce SBOMs as {', '.join(media_types)}; "
                                          f"it produces {', '.join(reports.SBOM_MEDIA_TYPES)}.")


@adapter_view(("POST",))
def scan(request):
    try:
        url, authorization, artifact = scan_request_parse(request.body)
    except ScanRequestInvalid as invalid:
        return _error(invalid.status, str(invalid))
    created = registry_artifact_scan_queue(registry_url=url, authorization=authorization, artifact=artifact)
    return JsonResponse({"id": str(created.pk)}, status=202, content_type=reports.SCAN_RESPONSE)


def _harbor_scan(scan_request_id: str) -> ImageScan | None:
    # Only scans Harbor requested: a build's scan is not readable with the adapter's token.
    if not re.fullmatch(r"[0-9]{1,18}", scan_request_id):  # ASCII only ("¹".isdigit() is True) and a bigint
        return None
    return ImageScan.objects.filter(pk=int(scan_request_id), build__isnull=True).exclude(registry="").first()


@adapter_view(("GET",))
def scan_report(request, scan_request_id):
    found = _harbor_scan(scan_request_id)
    if found is None:
        return _error(404, f"No scan request {scan_request_id}.")
    accept = request.headers.get("Accept", "")
    wanted = reports.negotiate(accept, reports.REPORTS)
    if wanted is None:
        return _error(501, f"This scanner cannot produce {accept!r}; it produces {', '.join(reports.REPORTS)}.")
    # An unescaped "+" in the query arrives as a space: read "application/vnd.cyclonedx json" as meant.
    sbom_type = request.GET.get("sbom_media_type", "").replace(" ", "+")
    if wanted == reports.SBOM_1_0 and sbom_type not in reports.SBOM_MEDIA_TYPES:
        return _error(400, f"An SBOM report needs ?sbom_media_type= one of {', '.join(reports.SBOM_MEDIA_TYPES)}"
                           + (f" ({sbom_type!r} is not produced)." if sbom_type else "."))
    if found.status in (ImageScan.Status.QUEUED, ImageScan.Status.SCANNING):
        if timezone.now() - found.created > PENDING_DEADLINE:
            return _error(500, "The scan did not finish in time; request a new scan.")
        response = HttpResponse(status=302)
        response["Refresh-After"] = str(REFRESH_AFTER_SECONDS)
        return response
    if found.status != ImageScan.Status.DONE:
        return _error(500, f"The scan failed: {found.error or found.get_status_display()}")
    artifact = found.facts.get("harbor", {}).get("artifact") or {"repository": found.repository, "digest": found.digest}
    generated_at = found.finished or timezone.now()
    if wanted == reports.SBOM_1_0:
        facts = ImageFacts.from_dict(found.facts)
        if sbom_type == reports.SPDX:
            sbom = spdx_document(facts, created=generated_at, tool=f"{scanner()['name']}-{scanner()['version']}")
        else:
            sbom = json.loads(cyclonedx_json(facts))
        body = reports.sbom_report(artifact=artifact, scanner=scanner(), sbom=sbom, media_type=sbom_type,
                                   generated_at=generated_at)
    else:
        # Harbor would show an empty report as "no vulnerabilities": an image nobody could assess is an error that says why.
        not_assessed = scan_coverage(found, max_age_days=data_max_age_days(ruleset_for(None))).reason
        if not_assessed:
            return _error(500, f"Not assessed: {not_assessed}. Import current vulnerability data on the scanner, then scan again.")
        body = reports.vulnerability_report(artifact=artifact, scanner=scanner(), rows=_finding_rows(found),
                                            generated_at=generated_at)
    return JsonResponse(body, content_type=wanted)


def _finding_rows(found: ImageScan) -> list[dict]:
    return [
        {"vulnerability_id": f.vulnerability_id, "package": f.package.name, "installed_version": f.installed_version,
         "fixed_version": f.fixed_version, "severity": f.severity, "severity_source": f.severity_source,
         "advisory_id": f.advisory.osv_id, "summary": f.advisory.summary, "record": f.advisory.record,
         "source_package": f.package.source_name, "package_version": f.package.version,
         "package_type": f.package.type, "layer_index": f.package.layer_index}
        for f in found.findings.select_related("package", "advisory")
    ]
