"""Harbor's pluggable scanner adapter API: auth, validation, report states, the pure report
builder, and one real scan through Celery and the registry."""
import datetime
import json
import time
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone

from adapters.factory import registry_client, service_token
from compliance.harbor import reports
from compliance.harbor.credentials import scan_credential_read
from compliance.harbor.services import (
    harbor_scans_prune,
    registry_artifact_scan,
    registry_artifact_scan_request,
    registry_client_for,
)
from compliance.models import Advisory, Finding, ImageScan, ImportRun, SbomPackage, ScanCredential, ScannedLayer
from compliance.vulndb.store import vulndb_import

TOKEN = "harbor-test-token"
DIGEST = "sha256:" + "a" * 64
SCAN_REQUEST = "application/vnd.scanner.adapter.scan.request+json; version=1.0"


@pytest.fixture
def harbor(settings):
    settings.HARBOR_ADAPTER_TOKEN = TOKEN
    return Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


def scan_request(**overrides):
    body = {"registry": {"url": "http://127.0.0.1:5000", "authorization": "", "insecure": True},
            "artifact": {"repository": "base/debian", "digest": DIGEST, "tag": "bookworm", "namespace_id": 1,
                         "mime_type": reports.DOCKER_MANIFEST_V2}}
    for key, value in overrides.items():
        section, _, field = key.partition("__")
        if value is None:
            body[section].pop(field, None)
        else:
            body[section][field] = value
    return body


def as_json(response):
    # The test client's .json() only reads application/json; the spec's types are vendor types.
    return json.loads(response.content)


def post_scan(client, body):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/harbor/api/v1/scan", data=data, content_type=SCAN_REQUEST)


def report(client, scan_id, accept=reports.VULN_1_1, query=""):
    return client.get(f"/harbor/api/v1/scan/{scan_id}/report{query}", HTTP_ACCEPT=accept)


# -- authentication ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_it_refuses_calls_without_or_with_a_wrong_token(harbor):
    for client in (Client(), Client(HTTP_AUTHORIZATION="Bearer wrong"), Client(HTTP_AUTHORIZATION=f"Basic {TOKEN}")):
        response = client.get("/harbor/api/v1/metadata")
        assert response.status_code == 401
        assert response["Content-Type"] == reports.ERROR
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "bearer token" in as_json(response)["error"]["message"]
    assert post_scan(Client(), scan_request()).status_code == 401
    assert not ImageScan.objects.exists()


@pytest.mark.django_db
def test_it_is_disabled_when_no_token_is_set(settings):
    settings.HARBOR_ADAPTER_TOKEN = ""
    response = Client(HTTP_AUTHORIZATION="Bearer ").get("/harbor/api/v1/metadata")
    assert response.status_code == 503
    assert "HARBOR_ADAPTER_TOKEN" in as_json(response)["error"]["message"]


@pytest.mark.django_db
def test_it_bypasses_the_login_page_and_csrf(harbor):
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert client.get("/harbor/api/v1/metadata").status_code == 200
    assert post_scan(client, "not json").status_code == 400  # reached the view: no 403 from CSRF


# -- metadata ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_it_describes_the_scanner_and_its_database(harbor):
    finished = timezone.make_aware(datetime.datetime(2026, 1, 2, 3, 4, 5), datetime.timezone.utc)
    run = ImportRun.objects.create(source="osv", origin="x", status=ImportRun.Status.DONE, finished=finished)
    response = harbor.get("/harbor/api/v1/metadata", HTTP_ACCEPT=reports.METADATA_1_1)
    assert response.status_code == 200
    assert response["Content-Type"] == reports.METADATA_1_1
    body = as_json(response)
    assert body["scanner"]["name"] == "image-portal" and body["scanner"]["vendor"] and body["scanner"]["version"]
    vulnerability, sbom = body["capabilities"]
    assert vulnerability["type"] == "vulnerability"
    assert vulnerability["consumes_mime_types"] == [reports.OCI_MANIFEST, reports.DOCKER_MANIFEST_V2]
    assert reports.VULN_1_1 in vulnerability["produces_mime_types"]
    assert sbom["produces_mime_types"] == [reports.SBOM_1_0]
    assert sbom["additional_attributes"]["sbom_media_types"] == ["application/vnd.cyclonedx+json", "application/spdx+json"]
    properties = body["properties"]
    assert properties["harbor.scanner-adapter/vulnerability-database-updated-at"] == "2026-01-02T03:04:05Z"
    assert properties["image-portal/vulnerability-database-version"] == str(run.pk)
    assert all(isinstance(value, str) for value in properties.values())


@pytest.mark.django_db
def test_it_answers_metadata_in_the_version_asked_for(harbor):
    older = harbor.get("/harbor/api/v1/metadata", HTTP_ACCEPT=reports.METADATA_1_0)
    assert older["Content-Type"] == reports.METADATA_1_0
    # version 1.0 (spec v1.1) has no capability types: only the vulnerability reports
    assert as_json(older)["capabilities"] == [{"consumes_mime_types": reports.CONSUMES,
                                               "produces_mime_types": reports.VULNERABILITY_REPORTS}]
    assert harbor.get("/harbor/api/v1/metadata")["Content-Type"] == reports.METADATA_1_1
    assert harbor.post("/harbor/api/v1/metadata").status_code == 405


# -- scan requests -------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("body, status, words", [
    ("{not json", 400, "not valid JSON"),
    ("[]", 400, "must be a JSON object"),
    (scan_request(registry__url=5), 400, "registry.url must be a string"),
    ({"artifact": {"repository": "a", "digest": DIGEST}}, 422, "registry is required"),
    (scan_request(registry__url=None), 422, "registry.url is required"),
    (scan_request(registry__url="ftp://example"), 422, "http(s) URL"),
    (scan_request(registry__authorization="Token abc"), 422, "Basic"),
    (scan_request(artifact__digest=None), 422, "artifact.digest is required"),
    (scan_request(artifact__digest="sha512:abc"), 422, "sha256"),
    (scan_request(artifact__repository="Not/Valid"), 422, "not a repository name"),
    (scan_request(artifact__mime_type="application/vnd.oci.image.index.v1+json"), 422, "consumes"),
    ({**scan_request(), "enabled_capabilities": [{"type": "sbom", "parameters": {"sbom_media_types": ["AAA"]}}]},
     422, "must name"),
    ({**scan_request(), "enabled_capabilities": [{"type": "vulnerability", "produces_mime_types": ["text/plain"]}]},
     501, "does not produce text/plain"),
    ({**scan_request(), "enabled_capabilities": [{"type": "secrets"}]}, 422, "vulnerability or sbom"),
    (scan_request(artifact__tag=7), 400, "artifact.tag must be a string"),
    ({"registry": {"url": "http://r"}, "artifact": {"repository": "a", "digest": DIGEST, "mime_type": None}}, 400,
     "artifact.mime_type must be a string"),
    ({**scan_request(), "enabled_capabilities": "all"}, 400, "list of objects"),
    ({**scan_request(), "enabled_capabilities": [{"type": "sbom", "parameters": {"sbom_media_types": {}}}]}, 400,
     "list of strings"),
    ({**scan_request(), "enabled_capabilities": [{"type": "sbom", "parameters": False}]}, 400, "must be an object"),
    ({**scan_request(), "enabled_capabilities": [{"type": "sbom", "produces_mime_types": None}]}, 400, "list of strings"),
])
def test_it_rejects_bad_scan_requests_with_the_specs_status(harbor, body, status, words):
    response = post_scan(harbor, body)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == reports.ERROR
    assert words.lower() in as_json(response)["error"]["message"].lower()
    assert not ImageScan.objects.exists()


@pytest.mark.django_db
def test_it_queues_a_scan_by_id_and_keeps_the_credential_sealed_beside_it(harbor, monkeypatch,
                                                                          django_capture_on_commit_callbacks):
    from compliance import tasks

    sent = []
    monkeypatch.setattr(tasks.scan_registry_artifact, "apply_async", lambda **kwargs: sent.append(kwargs))
    body = scan_request(registry__authorization="Bearer robot-jwt")
    # Harbor may ask for more than is made (the raw report): what can be made is made.
    body["enabled_capabilities"] = [
        {"type": "vulnerability", "produces_mime_types": [reports.VULN_1_1, "application/vnd.scanner.adapter.vuln.report.raw"]},
        {"type": "sbom", "parameters": {"sbom_media_types": [reports.SPDX, reports.CYCLONEDX]}}]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_scan(harbor, body)
    assert response.status_code == 202
    assert response["Content-Type"] == reports.SCAN_RESPONSE
    scan = ImageScan.objects.get()
    assert as_json(response) == {"id": str(scan.pk)}
    assert (scan.build, scan.registry, scan.repository, scan.digest, scan.status) == (
        None, "http://127.0.0.1:5000", "base/debian", DIGEST, "queued")
    assert scan.facts["harbor"]["artifact"] == {"repository": "base/debian", "digest": DIGEST, "tag": "bookworm",
                                                "mime_type": reports.DOCKER_MANIFEST_V2}
    assert sent == [{"args": [scan.pk]}], "the message carries the scan's id and nothing else"
    assert "robot-jwt" not in json.dumps(scan.facts)
    assert "robot-jwt" not in ScanCredential.objects.get(scan=scan).sealed, "sealed at rest"
    assert scan_credential_read(scan, sent=True) == "Bearer robot-jwt"


@pytest.fixture
def queued(harbor, monkeypatch, django_capture_on_commit_callbacks):
    """A scan Harbor asked for with a robot credential, its message not delivered yet; the registry
    read records the credential it was given and finds nothing."""
    from adapters.registry import RegistryError
    from compliance import tasks
    from compliance.harbor import services

    monkeypatch.setattr(tasks.scan_registry_artifact, "apply_async", lambda **kwargs: None)
    with django_capture_on_commit_callbacks(execute=True):
        post_scan(harbor, scan_request(registry__authorization="Bearer robot-jwt"))
    used = []

    def client_for(url, authorization=""):
        used.append(authorization)
        return registry_client_for(url, authorization)

    def read_image(client, repository, digest, **options):
        raise RegistryError(f"manifest {repository}@{digest} not found")

    monkeypatch.setattr(services, "registry_client_for", client_for)
    monkeypatch.setattr(services, "read_image", read_image)
    return ImageScan.objects.get(), used


@pytest.mark.django_db
def test_the_worker_looks_the_credential_up_by_scan_id_and_deletes_it_when_the_scan_ends(queued):
    from compliance.tasks import scan_registry_artifact

    scan, used = queued
    scan_registry_artifact(scan.pk)  # a redelivered (or late) message finds it while the scan is queued
    scan.refresh_from_db()
    assert used == ["Bearer robot-jwt"] and scan.status == "failed" and "not found" in scan.error
    assert not ScanCredential.objects.exists(), "gone once the scan ended"
    scan_registry_artifact(scan.pk)  # delivered again after the end: nothing runs
    assert used == ["Bearer robot-jwt"]


@pytest.mark.django_db
def test_a_second_delivery_while_another_worker_scans_leaves_its_credential_alone(queued):
    from compliance.tasks import scan_registry_artifact

    scan, used = queued
    ImageScan.objects.filter(pk=scan.pk).update(status="scanning")
    scan_registry_artifact(scan.pk)
    assert used == [] and ScanCredential.objects.filter(scan=scan).exists()


@pytest.mark.django_db
def test_a_credential_past_its_time_fails_the_scan_with_why_and_is_pruned(queued, settings):
    from compliance.tasks import scan_registry_artifact

    scan, used = queued
    ScanCredential.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert harbor_scans_prune() == 0 and not ScanCredential.objects.exists(), "the hourly prune takes it"
    scan_registry_artifact(scan.pk)
    scan.refresh_from_db()
    assert scan.status == "failed" and "expired before the scan started" in scan.error and used == []


@pytest.mark.django_db
def test_a_credential_sealed_under_another_secret_key_is_not_read(queued, settings):
    from compliance.tasks import scan_registry_artifact

    scan, used = queued
    settings.SECRET_KEY = "rotated-" + settings.SECRET_KEY
    scan_registry_artifact(scan.pk)
    scan.refresh_from_db()
    assert scan.status == "failed" and "cannot be read" in scan.error and used == []
    assert not ScanCredential.objects.exists()


# -- reports -------------------------------------------------------------------------------------

def harbor_scan(status="done", **fields):
    return ImageScan.objects.create(registry="http://127.0.0.1:5000", repository="base/debian", digest=DIGEST,
                                    status=status, facts={"harbor": {"artifact": {"repository": "base/debian",
                                                                                  "digest": DIGEST}}}, **fields)


@pytest.mark.django_db
def test_it_answers_302_while_scanning_and_500_when_the_scan_failed(harbor):
    for status in ("queued", "scanning"):
        response = report(harbor, harbor_scan(status).pk)
        assert response.status_code == 302
        assert int(response["Refresh-After"]) > 0
    stuck = harbor_scan("scanning")
    ImageScan.objects.filter(pk=stuck.pk).update(created=timezone.now() - datetime.timedelta(days=1))
    assert report(harbor, stuck.pk).status_code == 500
    response = report(harbor, harbor_scan("failed", error="manifest base/debian@sha256:aa not found").pk)
    assert response.status_code == 500
    assert response["Content-Type"] == reports.ERROR
    assert "not found" in as_json(response)["error"]["message"]


@pytest.mark.django_db
def test_it_answers_404_for_unknown_ids_and_for_scans_it_did_not_request(harbor, team):
    assert report(harbor, 999999).status_code == 404
    assert report(harbor, "abc").status_code == 404
    assert report(harbor, "¹").status_code == 404  # a digit to str.isdigit, not to int()
    assert report(harbor, "9" * 40).status_code == 404
    own = ImageScan.objects.create(digest=DIGEST, status="done")  # a build's or an import's scan: not Harbor's
    assert report(harbor, own.pk).status_code == 404


@pytest.mark.django_db
def test_it_answers_501_for_report_types_it_does_not_produce_and_400_without_an_sbom_format(harbor):
    scan = harbor_scan()
    response = report(harbor, scan.pk, accept="application/vnd.scanner.adapter.vuln.report.raw")
    assert response.status_code == 501
    assert "cannot produce" in as_json(response)["error"]["message"]
    assert report(harbor, scan.pk, accept=reports.SBOM_1_0).status_code == 400
    assert report(harbor, scan.pk, accept=reports.SBOM_1_0, query="?sbom_media_type=text/plain").status_code == 400


def _finding(scan, *, package, version, vulnerability_id, severity, fixed="", source_name="", record=None):
    row = SbomPackage.objects.create(scan=scan, name=package, version=version, source_name=source_name or package,
                                     source_version=version, layer_index=0)
    advisory, _ = Advisory.objects.get_or_create(
        source="osv", osv_id=f"DEB-{vulnerability_id}",
        defaults={"modified": timezone.now(), "aliases": [vulnerability_id], "summary": f"{package} is broken",
                  "record": record or {}})
    return Finding.objects.create(scan=scan, package=row, advisory=advisory, vulnerability_id=vulnerability_id,
                                  installed_version=version, fixed_version=fixed, severity=severity,
                                  severity_source="debian-urgency")


@pytest.mark.django_db
def test_it_serves_a_done_scans_report_in_the_mime_type_asked_for(harbor, vulnerability_data):
    scan = harbor_scan(finished=timezone.now(), os_id="debian", os_version="12")
    _finding(scan, package="libssl3", version="3.0.11-1~deb12u1", vulnerability_id="CVE-2024-0001", severity="High",
             fixed="3.0.13-1~deb12u1", source_name="openssl",
             record={"references": [{"type": "ADVISORY", "url": "https://security-tracker.debian.org/tracker/CVE-2024-0001"}]})
    _finding(scan, package="zlib1g", version="1:1.2.13.dfsg-1", vulnerability_id="CVE-2024-0002", severity="Negligible")
    for accept in (reports.VULN_1_1, reports.VULN_HARBOR_1_0):
        response = report(harbor, scan.pk, accept=accept)
        assert response.status_code == 200
        assert response["Content-Type"] == accept
        body = as_json(response)
        assert body["artifact"] == {"repository": "base/debian", "digest": DIGEST}
        assert body["scanner"]["name"] == "image-portal"
        assert body["severity"] == "High"
        first, second = body["vulnerabilities"]
        assert (first["id"], first["package"], first["version"], first["fix_version"]) == (
            "CVE-2024-0001", "libssl3", "3.0.11-1~deb12u1", "3.0.13-1~deb12u1")
        assert first["links"][0] == "https://security-tracker.debian.org/tracker/CVE-2024-0001"
        assert first["vendor_attributes"]["source_package"] == "openssl"
        assert (second["severity"], "fix_version" in second) == ("Negligible", False)


@pytest.mark.django_db
def test_an_image_without_current_vulnerability_data_is_an_error_saying_so_not_an_empty_report(harbor, tmp_path):
    from tests.conftest import vulnerability_data_import

    scan = harbor_scan(finished=timezone.now(), os_id="debian", os_version="12")
    SbomPackage.objects.create(scan=scan, name="libssl3", version="3.0.11-1", source_name="openssl", source_version="3.0.11-1")
    response = report(harbor, scan.pk)
    assert response.status_code == 500
    assert as_json(response)["error"]["message"].startswith("Not assessed: no vulnerability data for Debian:12")
    vulnerability_data_import(tmp_path / "data")
    assert report(harbor, scan.pk).status_code == 200


@pytest.mark.django_db
def test_it_accepts_a_scan_asking_for_an_spdx_sbom_only(harbor, monkeypatch):
    from compliance import tasks

    monkeypatch.setattr(tasks.scan_registry_artifact, "apply_async", lambda **kwargs: None)
    body = {**scan_request(), "enabled_capabilities": [  # what Harbor sends by default for SBOMs
        {"type": "sbom", "produces_mime_types": [reports.SBOM_1_0], "parameters": {"sbom_media_types": [reports.SPDX]}}]}
    assert post_scan(harbor, body).status_code == 202


@pytest.mark.django_db
def test_it_serves_an_sbom_report_in_spdx_and_in_cyclonedx(harbor):
    from compliance.sbom.models import ImageFacts, Package

    facts = ImageFacts(repository="base/debian", digest=DIGEST, layer_digests=["sha256:" + "b" * 64], config={},
                       os={"ID": "debian", "VERSION_ID": "12"},
                       packages=[Package(name="libssl3", version="3.0.11-1~deb12u1", source_name="openssl",
                                         source_version="3.0.11-1~deb12u1", architecture="amd64", layer_index=0)])
    finished = timezone.make_aware(datetime.datetime(2026, 5, 1, 12, 0, 0), datetime.timezone.utc)
    scan = ImageScan.objects.create(registry="http://127.0.0.1:5000", repository="base/debian", digest=DIGEST,
                                    status="done", finished=finished, facts={
                                        **facts.to_dict(), "harbor": {"artifact": {"repository": "base/debian",
                                                                                   "digest": DIGEST}}})
    for query in (f"?sbom_media_type={quote(reports.SPDX)}", f"?sbom_media_type={reports.SPDX}"):
        response = report(harbor, scan.pk, accept=reports.SBOM_1_0, query=query)
        assert response.status_code == 200 and response["Content-Type"] == reports.SBOM_1_0
    body = as_json(response)
    # HarborSbomReport: generated_at, artifact, scanner, media_type, sbom (an object)
    assert (body["generated_at"], body["artifact"], body["media_type"]) == (
        "2026-05-01T12:00:00Z", {"repository": "base/debian", "digest": DIGEST}, reports.SPDX)
    assert body["scanner"]["name"] == "image-portal"
    spdx = body["sbom"]
    assert (spdx["spdxVersion"], spdx["creationInfo"]["created"]) == ("SPDX-2.3", "2026-05-01T12:00:00Z")
    assert spdx["creationInfo"]["creators"] == [f"Tool: image-portal-{body['scanner']['version']}"]
    assert [p["name"] for p in spdx["packages"]] == ["base/debian", "libssl3", "debian"]
    assert spdx["packages"][1]["externalRefs"][0]["referenceLocator"].startswith("pkg:deb/debian/libssl3@3.0.11-1~deb12u1")
    cyclonedx = as_json(report(harbor, scan.pk, accept=reports.SBOM_1_0, query=f"?sbom_media_type={reports.CYCLONEDX}"))
    assert cyclonedx["media_type"] == reports.CYCLONEDX and cyclonedx["sbom"]["bomFormat"] == "CycloneDX"


# -- the pure builder ----------------------------------------------------------------------------

def row(vulnerability_id, severity, package="dpkg", version="1.21.22", fixed="", record=None):
    return {"vulnerability_id": vulnerability_id, "package": package, "installed_version": version,
            "fixed_version": fixed, "severity": severity, "severity_source": "record", "record": record or {}}


def test_it_builds_a_report_worst_first_keeping_the_worst_grade_of_duplicates():
    moment = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    built = reports.vulnerability_report(
        artifact={"repository": "r", "digest": DIGEST}, scanner={"name": "image-portal", "vendor": "v", "version": "1"},
        generated_at=moment,
        rows=[row("CVE-1", "Low"), row("CVE-2", "Critical", fixed="2.0"), row("CVE-1", "Medium"), row("CVE-3", "Odd")])
    assert built["generated_at"] == "2026-05-01T12:00:00Z"
    assert built["severity"] == "Critical"
    assert [(v["id"], v["severity"]) for v in built["vulnerabilities"]] == [
        ("CVE-2", "Critical"), ("CVE-1", "Medium"), ("CVE-3", "Unknown")]
    assert built["vulnerabilities"][0]["fix_version"] == "2.0"


def test_it_leaves_severity_out_of_a_report_without_vulnerabilities():
    built = reports.vulnerability_report(artifact={}, scanner={}, rows=[], generated_at=datetime.datetime(2026, 1, 1))
    assert "severity" not in built and built["vulnerabilities"] == []


def test_it_reads_cvss_links_and_cwes_from_the_record():
    record = {"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
                           {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}],
              "references": [{"type": "WEB", "url": "https://example.org/x"}, {"type": "WEB", "url": "javascript:x"}],
              "database_specific": {"cwe_ids": ["CWE-79", "nonsense"]}, "summary": "XSS"}
    item = reports.vulnerability_item(row("CVE-2024-1", "Critical", record=record))
    assert item["preferred_cvss"] == {"vector_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "score_v3": 9.8,
                                      "vector_v2": "AV:N/AC:L/Au:N/C:P/I:P/A:P", "score_v2": 7.5}
    assert item["links"] == ["https://example.org/x", "https://nvd.nist.gov/vuln/detail/CVE-2024-1"]
    assert item["cwe_ids"] == ["CWE-79"]
    assert item["description"] == "XSS"


def test_it_maps_severities_onto_harbors_enum():
    assert [reports.harbor_severity(s) for s in ("Critical", "High", "Medium", "Low", "Negligible", "Unknown", "None", "")] \
        == ["Critical", "High", "Medium", "Low", "Negligible", "Unknown", "Unknown", "Unknown"]


def test_it_negotiates_the_accept_header():
    assert reports.negotiate("", reports.REPORTS) == reports.VULN_1_1
    assert reports.negotiate("*/*", reports.REPORTS) == reports.VULN_1_1
    assert reports.negotiate(reports.VULN_HARBOR_1_0, reports.REPORTS) == reports.VULN_HARBOR_1_0
    assert reports.negotiate("application/vnd.security.vulnerability.report; version=1.0", reports.REPORTS) is None
    assert reports.negotiate(f"text/html, {reports.SBOM_1_0};q=0.5, */*;q=0.1", reports.REPORTS) == reports.SBOM_1_0


# -- the service ---------------------------------------------------------------------------------

def test_it_builds_registry_clients_from_harbors_authorization():
    assert registry_client_for("http://r", "Bearer jwt")._auth_header() == {"Authorization": "Bearer jwt"}
    assert registry_client_for("http://r", "Basic cm9ib3Q6c2VjcmV0")._auth_header() == {
        "Authorization": "Basic cm9ib3Q6c2VjcmV0"}  # robot:secret, re-encoded from the parsed pair
    assert registry_client_for("http://r", "")._auth_header() == {}


@pytest.mark.integration
@pytest.mark.django_db
def test_it_scans_only_queued_requests_and_records_registry_errors(services, settings):
    done = harbor_scan("done")
    assert registry_artifact_scan(scan=done).status == "done"
    # Harbor hands over a pull credential for the artifact; the registry then says the manifest is missing.
    pull = "Bearer " + service_token("scanner", "repository:base/nothing-here:pull")
    missing = registry_artifact_scan_request(registry_url=settings.REGISTRY_URL, authorization=pull,
                                             artifact={"repository": "base/nothing-here", "digest": DIGEST})
    scanned = registry_artifact_scan(scan=missing)
    assert scanned.status == "failed" and "not found" in scanned.error and scanned.finished


# -- end to end ----------------------------------------------------------------------------------

OSV_RECORD = {
    "id": "PORTAL-TEST-2099-0001", "modified": "2099-01-01T00:00:00Z", "aliases": ["CVE-2099-0001"],
    "summary": "apt test advisory", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [{"package": {"ecosystem": "Debian:12", "name": "apt"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99:0"}]}]}],
}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_it_scans_an_image_for_harbor_end_to_end(services, celery_worker, settings, tmp_path):
    settings.HARBOR_ADAPTER_TOKEN = TOKEN
    client = Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "record.json").write_text(json.dumps(OSV_RECORD))
    run, _ = vulndb_import(source="osv", path=str(tmp_path / "osv"))
    assert run.status == "done", run.error
    digest = registry_client("scanner").manifest_digest("base/debian", "bookworm")
    # Harbor hands over a token its registry accepts; ours answers the portal's tokens only.
    pull = "Bearer " + service_token("scanner", "repository:base/debian:pull")

    response = post_scan(client, {"registry": {"url": settings.REGISTRY_URL, "authorization": pull},
                                  "artifact": {"repository": "base/debian", "digest": digest, "tag": "bookworm",
                                               "mime_type": reports.DOCKER_MANIFEST_V2}})
    assert response.status_code == 202, response.content
    scan_id = as_json(response)["id"]
    statuses = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        polled = report(client, scan_id)
        statuses.append(polled.status_code)
        if polled.status_code != 302:
            break
        assert int(polled["Refresh-After"]) > 0
        time.sleep(0.2)
    assert polled.status_code == 200, (statuses, polled.content)
    assert statuses[0] == 302  # the worker needs a second or more: the first poll finds it running
    assert polled["Content-Type"] == reports.VULN_1_1
    body = as_json(polled)
    assert body["artifact"] == {"repository": "base/debian", "digest": digest, "tag": "bookworm",
                                "mime_type": reports.DOCKER_MANIFEST_V2}
    assert body["scanner"]["name"] == "image-portal"
    assert body["severity"] == "Critical"
    apt = [v for v in body["vulnerabilities"] if v["id"] == "CVE-2099-0001"]
    assert {v["package"] for v in apt} == {"apt", "libapt-pkg6.0"}
    assert all(v["fix_version"] == "99:0" and v["severity"] == "Critical" for v in apt)
    assert apt[0]["preferred_cvss"]["score_v3"] == 9.8
    scan = ImageScan.objects.get(pk=scan_id)
    assert (scan.build, scan.os_id, scan.os_version) == (None, "debian", "12")
    assert scan.packages.filter(source_name="apt").exists()
    # Its layer records serve later scans of Harbor's registry only, never a build's scan.
    assert set(ScannedLayer.objects.values_list("source", flat=True)) == {settings.REGISTRY_URL.rstrip("/")}

    for query in (f"?sbom_media_type={quote(reports.CYCLONEDX)}", f"?sbom_media_type={reports.CYCLONEDX}"):
        sbom = report(client, scan_id, accept=reports.SBOM_1_0, query=query)  # escaped, and "+" left raw
        assert sbom.status_code == 200 and sbom["Content-Type"] == reports.SBOM_1_0
    assert as_json(sbom)["media_type"] == reports.CYCLONEDX
    assert any(c["name"] == "apt" for c in as_json(sbom)["sbom"]["components"])
