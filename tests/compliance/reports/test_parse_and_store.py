"""Trivy and Grype JSON reports imported as findings: parsing, storing, the API and the command."""
import copy
import io
import json

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from compliance.models import Advisory, Finding, ImageScan, SbomPackage
from compliance.reports.parse import (
    ExternalFinding,
    ReportError,
    normalise_severity,
    parse_grype_report,
    parse_trivy_report,
    report_digests,
    report_os,
)
from compliance.reports.store import ImportRefused, external_report_import
from portal.models import AuditEvent
from tests.factories import api_token_for

DIGEST = "sha256:" + "d" * 64
OTHER = "sha256:" + "e" * 64

TRIVY = {
    "SchemaVersion": 2,
    "ArtifactName": "registry.example/payments/pay-api:1",
    "ArtifactType": "container_image",
    "Metadata": {"OS": {"Family": "debian", "Name": "12.5"}, "RepoDigests": [f"registry.example/payments/pay-api@{DIGEST}"]},
    "Results": [
        {"Target": "registry.example/payments/pay-api:1 (debian 12.5)", "Class": "os-pkgs", "Type": "debian",
         "Packages": [{"Name": "libssl3", "Version": "3.0.11-1~deb12u1", "SrcName": "openssl"}],
         "Vulnerabilities": [
             {"VulnerabilityID": "CVE-2024-0727", "PkgName": "libssl3", "InstalledVersion": "3.0.11-1~deb12u1",
              "FixedVersion": "3.0.13-1~deb12u1", "Severity": "MEDIUM", "SeveritySource": "debian",
              "Title": "openssl: denial of service via null dereference",
              "PrimaryURL": "https://avd.aquasec.com/nvd/cve-2024-0727",
              "References": ["https://www.openssl.org/news/secadv/20240125.txt", "not a url"],
              "CweIDs": ["CWE-476"], "CVSS": {"nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "V3Score": 7.5}}},
             {"VulnerabilityID": "CVE-2011-3374", "PkgName": "apt", "InstalledVersion": "2.6.1", "Severity": "LOW",
              "Status": "affected"},
         ]},
        {"Target": "app/requirements.txt", "Class": "lang-pkgs", "Type": "pip",
         "Vulnerabilities": [{"VulnerabilityID": "GHSA-h5c8-rqwp-cp95", "PkgName": "Jinja2", "InstalledVersion": "2.10",
                              "FixedVersion": "2.11.3", "Severity": "CRITICAL"}]},
        {"Target": "app/.env", "Class": "secret", "Secrets": [{"RuleID": "aws-access-key-id"}]},
    ],
}

GRYPE = {
    "matches": [
        {"vulnerability": {"id": "CVE-2024-0727", "namespace": "debian:distro:debian:12", "severity": "Negligible",
                           "dataSource": "https://security-tracker.debian.org/tracker/CVE-2024-0727",
                           "fix": {"versions": ["3.0.13-1~deb12u1"], "state": "fixed"}},
         "relatedVulnerabilities": [{"id": "CVE-2024-0727", "description": "Processing a maliciously formatted PKCS12 file",
                                     "cvss": [{"version": "3.1", "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}]}],
         "artifact": {"name": "libssl3", "version": "3.0.11-1~deb12u1", "type": "deb",
                      "upstreams": [{"name": "openssl"}]}},
        {"vulnerability": {"id": "GHSA-h5c8-rqwp-cp95", "namespace": "github:language:python", "severity": "High",
                           "fix": {"versions": [], "state": "not-fixed"}, "urls": ["https://github.com/advisories/GHSA-h5c8-rqwp-cp95"]},
         "relatedVulnerabilities": [{"id": "CVE-2020-28493"}],
         "artifact": {"name": "Jinja2", "version": "2.10", "type": "python"}},
    ],
    "source": {"type": "image", "target": {"userInput": "pay-api:1", "manifestDigest": DIGEST}},
    "distro": {"name": "debian", "version": "12"},
    "descriptor": {"name": "grype"},
}


# -- parsing (pure) ------------------------------------------------------------------------------

def test_it_parses_a_trivy_report():
    found = {f.vulnerability_id: f for f in parse_trivy_report(TRIVY)}
    assert set(found) == {"CVE-2024-0727", "CVE-2011-3374", "GHSA-h5c8-rqwp-cp95"}
    ssl = found["CVE-2024-0727"]
    assert (ssl.package_name, ssl.installed_version, ssl.fixed_version, ssl.severity, ssl.package_type, ssl.source) == (
        "libssl3", "3.0.11-1~deb12u1", "3.0.13-1~deb12u1", "Medium", "deb", "trivy")
    assert (ssl.source_package, ssl.severity_source, ssl.cwe_ids) == ("openssl", "debian", ("CWE-476",))
    assert ssl.urls == ("https://avd.aquasec.com/nvd/cve-2024-0727", "https://www.openssl.org/news/secadv/20240125.txt")
    assert ssl.cvss_vectors == ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",)
    assert (found["CVE-2011-3374"].fixed_version, found["CVE-2011-3374"].severity) == ("", "Low")
    assert (found["GHSA-h5c8-rqwp-cp95"].package_type, found["GHSA-h5c8-rqwp-cp95"].severity) == ("pypi", "Critical")


def test_it_reads_trivys_older_list_format_and_a_report_without_results():
    legacy = parse_trivy_report(TRIVY["Results"])
    assert len(legacy) == 3
    assert parse_trivy_report({"SchemaVersion": 2, "ArtifactName": "clean:1"}) == []


def test_it_parses_a_grype_report():
    ssl, jinja = parse_grype_report(GRYPE)
    assert (ssl.vulnerability_id, ssl.package_name, ssl.installed_version, ssl.fixed_version, ssl.severity) == (
        "CVE-2024-0727", "libssl3", "3.0.11-1~deb12u1", "3.0.13-1~deb12u1", "Negligible")
    assert (ssl.package_type, ssl.source, ssl.source_package, ssl.aliases) == ("deb", "grype", "openssl", ())
    assert ssl.description.startswith("Processing") and ssl.cvss_vectors
    assert ssl.urls == ("https://security-tracker.debian.org/tracker/CVE-2024-0727",)
    assert (jinja.package_type, jinja.fixed_version, jinja.severity, jinja.aliases) == ("pypi", "", "High", ("CVE-2020-28493",))


@pytest.mark.parametrize("parse, data, words", [
    (parse_trivy_report, "text", "Not a Trivy JSON report"),
    (parse_trivy_report, {"matches": []}, "Not a Trivy JSON report"),
    (parse_trivy_report, {"SchemaVersion": 2, "Results": {"a": 1}}, "Results must be a list"),
    (parse_trivy_report, {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"PkgName": "a"}]}]},
     "Results[0].Vulnerabilities[0].VulnerabilityID is missing"),
    (parse_trivy_report, {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": 5}]}]},
     "PkgName must be a string"),
    (parse_grype_report, TRIVY, "Not a Grype JSON report"),
    (parse_grype_report, {"matches": [{"vulnerability": {"id": "CVE-1"}}]}, "matches[0] must be an object"),
    (parse_grype_report, {"matches": [{"vulnerability": {"id": "CVE-1"}, "artifact": {"version": "1"}}]},
     "matches[0].artifact.name is missing"),
])
def test_it_says_why_a_report_is_malformed(parse, data, words):
    with pytest.raises(ReportError) as raised:
        parse(data)
    assert words in str(raised.value)


def test_it_keeps_one_finding_per_pair_with_the_worst_grade():
    report = copy.deepcopy(TRIVY)
    twin = dict(report["Results"][0]["Vulnerabilities"][0], Severity="HIGH")
    report["Results"].append({"Type": "debian", "Vulnerabilities": [twin]})
    found = [f for f in parse_trivy_report(report) if f.vulnerability_id == "CVE-2024-0727"]
    assert [f.severity for f in found] == ["High"]


def test_it_normalises_severities_and_reads_the_image_identity():
    assert [normalise_severity(s) for s in ("CRITICAL", "high", "Moderate", "Negligible", "UNKNOWN", None, 3)] == [
        "Critical", "High", "Medium", "Negligible", "Unknown", "Unknown", "Unknown"]
    assert report_digests("trivy", TRIVY) == report_digests("grype", GRYPE) == {DIGEST}
    assert report_digests("trivy", TRIVY["Results"]) == set()
    assert report_os("trivy", TRIVY) == ("debian", "12.5")
    assert report_os("grype", GRYPE) == ("debian", "12")


def test_it_gives_each_finding_an_osv_shaped_record():
    finding = ExternalFinding(vulnerability_id="CVE-1", package_name="a", installed_version="1", fixed_version="",
                              severity="High", package_type="deb", source="trivy", urls=("https://x",),
                              cvss_vectors=("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV:N/AC:L/Au:N/C:P/I:P/A:P"))
    record = finding.record()
    assert record["references"] == [{"type": "WEB", "url": "https://x"}]
    assert [s["type"] for s in record["severity"]] == ["CVSS_V3", "CVSS_V2"]


# -- storing -------------------------------------------------------------------------------------

@pytest.fixture
def pushed(build):  # noqa: F811
    build.digest, build.status = DIGEST, "succeeded"
    build.quarantine_repository = "quarantine/payments/pay-api"
    build.save()
    return build


@pytest.fixture
def scanned(pushed):
    """The portal's own scan of the image: one package, one OSV finding."""
    scan = ImageScan.objects.create(build=pushed, digest=DIGEST, status="done", os_id="debian", os_version="12")
    ssl = SbomPackage.objects.create(scan=scan, name="libssl3", version="3.0.11-1~deb12u1", source_name="openssl",
                                     source_version="3.0.11-1~deb12u1", layer_index=0)
    advisory = Advisory.objects.create(source="osv", osv_id="DEBIAN-CVE-2024-0727", modified="2024-01-01T00:00:00Z",
                                       aliases=["CVE-2024-0727"])
    Finding.objects.create(scan=scan, package=ssl, advisory=advisory, vulnerability_id="CVE-2024-0727",
                           installed_version="3.0.11-1~deb12u1", severity="Low", severity_source="debian-urgency")
    return scan


@pytest.mark.django_db
def test_it_stores_a_report_on_the_builds_scan_reusing_its_packages(scanned, member):
    result = external_report_import(build=scanned.build, tool="trivy", data=TRIVY, actor=member)
    assert (result.scan, result.findings, result.replaced, result.packages_created, result.advisories_created) == (
        scanned, 3, 0, 2, 3)
    imported = Finding.objects.filter(scan=scanned, advisory__source="trivy").select_related("package", "advisory")
    by_id = {f.vulnerability_id: f for f in imported}
    ssl = by_id["CVE-2024-0727"]
    assert ssl.package.layer_index == 0  # the scan's own libssl3, not a copy
    assert (ssl.severity, ssl.severity_source, ssl.fixed_version) == ("Medium", "trivy:debian", "3.0.13-1~deb12u1")
    assert ssl.advisory.record["summary"].startswith("openssl:")
    jinja = by_id["GHSA-h5c8-rqwp-cp95"].package
    assert (jinja.type, jinja.name, jinja.version, jinja.layer_index) == ("pypi", "Jinja2", "2.10", None)
    assert Finding.objects.filter(scan=scanned, advisory__source="osv").count() == 1  # the portal's own kept
    event = AuditEvent.objects.get(action="report.imported")
    assert (event.actor, event.target_id, event.data["findings"]) == (member, str(scanned.build.pk), 3)


@pytest.mark.django_db
def test_it_replaces_only_the_same_tools_findings_on_a_second_import(scanned):
    external_report_import(build=scanned.build, tool="trivy", data=TRIVY)
    external_report_import(build=scanned.build, tool="grype", data=GRYPE)
    smaller = copy.deepcopy(TRIVY)
    smaller["Results"] = smaller["Results"][:1]
    result = external_report_import(build=scanned.build, tool="trivy", data=smaller)
    assert (result.findings, result.replaced) == (2, 3)
    counts = {source: Finding.objects.filter(scan=scanned, advisory__source=source).count()
              for source in ("osv", "trivy", "grype")}
    assert counts == {"osv": 1, "trivy": 2, "grype": 2}
    grype_jinja = Finding.objects.get(scan=scanned, advisory__source="grype", package__name="Jinja2")
    assert grype_jinja.vulnerability_id == "CVE-2020-28493"  # known by its CVE, as the portal's own findings are
    assert grype_jinja.advisory.osv_id == "GHSA-h5c8-rqwp-cp95"
    assert SbomPackage.objects.filter(scan=scanned, name="Jinja2").count() == 1  # one package, shared by both tools


@pytest.mark.django_db
def test_it_creates_a_scan_for_a_pushed_build_without_one(pushed):
    result = external_report_import(build=pushed, tool="grype", data=GRYPE)
    scan = result.scan
    assert (scan.build, scan.digest, scan.status, scan.os_id, scan.os_version) == (pushed, DIGEST, "done", "debian", "12")
    assert scan.packages.count() == 2 and scan.findings.count() == 2


@pytest.mark.django_db
def test_it_refuses_unpushed_builds_running_scans_and_other_images(build, scanned):  # noqa: F811
    other = build.recipe.builds.create(team=build.team, dockerfile="FROM x", composition_sha256="0" * 64)
    with pytest.raises(ImportRefused, match="no pushed image"):
        external_report_import(build=other, tool="trivy", data=TRIVY)
    mismatched = copy.deepcopy(GRYPE)
    mismatched["source"]["target"]["manifestDigest"] = OTHER
    with pytest.raises(ImportRefused, match="not this image"):
        external_report_import(build=scanned.build, tool="grype", data=mismatched)
    assert external_report_import(build=scanned.build, tool="grype", data=mismatched, force=True).findings == 2
    ImageScan.objects.filter(pk=scanned.pk).update(status="scanning")
    with pytest.raises(ImportRefused, match="being scanned"):
        external_report_import(build=scanned.build, tool="trivy", data=TRIVY)


@pytest.mark.django_db
def test_it_writes_nothing_for_a_malformed_report(scanned):
    before = (Finding.objects.count(), SbomPackage.objects.count(), Advisory.objects.count())
    with pytest.raises(ReportError):
        external_report_import(build=scanned.build, tool="grype", data={"matches": [{"vulnerability": {}}]})
    assert (Finding.objects.count(), SbomPackage.objects.count(), Advisory.objects.count()) == before


@pytest.mark.django_db
def test_it_imports_onto_a_scan_without_a_build():
    scan = ImageScan.objects.create(digest=DIGEST, status="done")
    assert external_report_import(scan=scan, tool="trivy", data=TRIVY).findings == 3


@pytest.mark.django_db
def test_it_shows_imported_findings_on_the_existing_report_page_and_csv(client, scanned, member):
    external_report_import(build=scanned.build, tool="grype", data=GRYPE)
    client.force_login(member)
    page = client.get(f"/builds/{scanned.build.pk}/report")
    assert page.status_code == 200 and "CVE-2020-28493" in page.content.decode()
    csv_text = client.get(f"/builds/{scanned.build.pk}/report.csv").content.decode()
    assert "GHSA-h5c8-rqwp-cp95" in csv_text and "grype" in csv_text


# -- the API -------------------------------------------------------------------------------------

def api_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


@pytest.mark.django_db
def test_it_imports_a_report_sent_as_json_or_as_a_file(scanned, member):
    api = api_for(member)
    url = f"/api/builds/{scanned.build.pk}/reports/"
    response = api.post(url, {"tool": "trivy", "report": TRIVY}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["findings"] == 3 and response.json()["scan"] == scanned.pk
    upload = io.BytesIO(json.dumps(GRYPE).encode())
    upload.name = "grype.json"
    response = api.post(url, {"tool": "grype", "file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    summary = {row["tool"]: row for row in api.get(url).json()}
    assert summary["grype"] == {"tool": "grype", "findings": 2, "by_severity": {"Negligible": 1, "High": 1}}
    assert summary["trivy"]["findings"] == 3


@pytest.mark.django_db
def test_it_answers_400_for_bad_reports_and_409_for_another_image(scanned, member):
    api = api_for(member)
    url = f"/api/builds/{scanned.build.pk}/reports/"
    response = api.post(url, {"tool": "trivy", "report": {"matches": []}}, format="json")
    assert response.status_code == 400 and "Not a Trivy JSON report" in response.json()["detail"]
    assert api.post(url, {"tool": "clair", "report": TRIVY}, format="json").status_code == 400
    assert "file upload" in api.post(url, {"tool": "trivy"}, format="json").json()["report"][0]
    broken = io.BytesIO(b"{oops")
    broken.name = "r.json"
    assert "Not valid JSON" in api.post(url, {"tool": "trivy", "file": broken}, format="multipart").json()["file"]
    mismatched = copy.deepcopy(TRIVY)
    mismatched["Metadata"]["RepoDigests"] = [f"x@{OTHER}"]
    response = api.post(url, {"tool": "trivy", "report": mismatched}, format="json")
    assert response.status_code == 409 and OTHER in response.json()["detail"]
    assert not Finding.objects.filter(advisory__source="trivy").exists()


@pytest.mark.django_db
def test_it_lets_reviewers_read_and_only_team_members_import(scanned, outsider, reviewer):
    url = f"/api/builds/{scanned.build.pk}/reports/"
    assert APIClient().post(url, {"tool": "trivy", "report": TRIVY}, format="json").status_code == 401
    assert api_for(outsider).get(url).status_code == 404
    assert api_for(outsider).post(url, {"tool": "trivy", "report": TRIVY}, format="json").status_code == 404
    assert api_for(reviewer).get(url).status_code == 200
    assert api_for(reviewer).post(url, {"tool": "trivy", "report": TRIVY}, format="json").status_code == 403
    assert not Finding.objects.filter(advisory__source="trivy").exists()


# -- the command ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_it_imports_from_the_command_line(scanned, tmp_path):
    path = tmp_path / "grype.json"
    path.write_text(json.dumps(GRYPE))
    out = io.StringIO()
    call_command("report_import", "grype", str(path), "--build", str(scanned.build.pk), stdout=out)
    assert "2 grype findings stored" in out.getvalue()
    path.write_text("{}")
    with pytest.raises(CommandError, match="Not a Grype JSON report"):
        call_command("report_import", "grype", str(path), "--build", str(scanned.build.pk))
    with pytest.raises(CommandError, match="No build"):
        call_command("report_import", "grype", str(path), "--build", "999999")


@pytest.mark.django_db
def test_matching_again_keeps_findings_imported_from_other_scanners(tmp_path):
    """Re-matching after a database import rewrites our findings only, never Trivy's or Grype's."""
    from compliance.vulndb.matching import IMPORTED_REPORT_SOURCES, scan_match
    scan = ImageScan.objects.create(digest="sha256:" + "5" * 64, status="done", os_id="debian", os_version="12")
    package = SbomPackage.objects.create(scan=scan, name="libssl3", version="3.0.11-1", source_name="openssl",
                                         source_version="3.0.11-1")
    advisory = Advisory.objects.create(source="trivy", osv_id="CVE-2024-0001", modified="2024-01-01T00:00:00Z")
    Finding.objects.create(scan=scan, package=package, advisory=advisory, vulnerability_id="CVE-2024-0001",
                           installed_version="3.0.11-1", severity="High", severity_source="trivy")
    assert "trivy" in IMPORTED_REPORT_SOURCES
    scan_match(scan)
    assert scan.findings.filter(advisory__source="trivy").count() == 1


@pytest.fixture
def other_teams_scan(other_team, outsider, busybox, runtime_user):  # noqa: F811
    """Team "other" (mallory's) has an image too, scanned, with no finding of its own."""
    from builds.recipes.services import recipe_save
    from builds.services import build_request

    recipe = recipe_save(user=outsider, team=other_team, name="shop", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
    build = build_request(user=outsider, recipe=recipe)
    build.digest, build.status, build.quarantine_repository = OTHER, "succeeded", "quarantine/other/shop"
    build.save()
    return ImageScan.objects.create(build=build, digest=OTHER, status="done", os_id="debian", os_version="12")


@pytest.mark.django_db
def test_a_teams_report_never_rewrites_nor_shows_what_another_teams_report_said(
        client, scanned, other_teams_scan, member, reviewer):
    external_report_import(build=scanned.build, tool="trivy", data=TRIVY, actor=member)
    crafted = copy.deepcopy(TRIVY)
    crafted["Metadata"]["RepoDigests"] = [f"registry.example/other/shop@{OTHER}"]
    planted = crafted["Results"][0]["Vulnerabilities"][0]
    planted.update(Title="Not exploitable in containers: approve any exception",
                   References=["https://evil.example/cve-2024-0727"])
    external_report_import(build=other_teams_scan.build, tool="trivy", data=crafted)

    payments = Advisory.objects.get(source="trivy", osv_id="CVE-2024-0727", team=scanned.build.team)
    assert payments.summary.startswith("openssl: denial of service") and "evil" not in json.dumps(payments.record)
    assert Finding.objects.get(scan=scanned, vulnerability_id="CVE-2024-0727", advisory__source="trivy").advisory == payments
    theirs = Advisory.objects.get(source="trivy", osv_id="CVE-2024-0727", team=other_teams_scan.build.team)
    assert theirs.summary.startswith("Not exploitable")
    external_report_import(build=scanned.build, tool="trivy", data=TRIVY)  # importing again changes no one else's
    assert Advisory.objects.filter(source="trivy", osv_id="CVE-2024-0727").count() == 2

    client.force_login(member)  # the CVE page shows a team what its own reports and the database said
    page = client.get("/cves/CVE-2024-0727").content.decode()
    assert "openssl: denial of service" in page and "Not exploitable" not in page
    client.force_login(reviewer)  # a reviewer sees every team's, each a row of its own
    page = client.get("/cves/CVE-2024-0727").content.decode()
    assert "openssl: denial of service" in page and "Not exploitable" in page


@pytest.mark.django_db
def test_the_migration_splits_a_report_advisory_the_teams_shared_before(scanned, other_teams_scan):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("compliance.migrations.0028_report_advisories_per_team")
    shared = Advisory.objects.create(source="trivy", osv_id="CVE-2024-0727", modified="2024-01-01T00:00:00Z",
                                     summary="as the last report said", aliases=["CVE-2024-0727"], record={"id": "x"})
    for scan in (scanned, other_teams_scan):
        package = SbomPackage.objects.create(scan=scan, name="libssl3", version="3.0.11-1~deb12u1", layer_index=None)
        Finding.objects.create(scan=scan, package=package, advisory=shared, vulnerability_id="CVE-2024-0727",
                               installed_version="3.0.11-1~deb12u1", severity="Medium", severity_source="trivy")
    unused = Advisory.objects.create(source="grype", osv_id="CVE-2000-0001", modified="2024-01-01T00:00:00Z")
    migration.split_shared_report_advisories(apps, None)
    rows = {row.team_id: row for row in Advisory.objects.filter(source="trivy", osv_id="CVE-2024-0727")}
    assert set(rows) == {scanned.build.team_id, other_teams_scan.build.team_id}
    assert all((row.summary, row.aliases, row.record) == ("as the last report said", ["CVE-2024-0727"], {"id": "x"})
               for row in rows.values())
    for scan in (scanned, other_teams_scan):
        assert Finding.objects.get(scan=scan, advisory__source="trivy").advisory == rows[scan.build.team_id]
    unused.refresh_from_db()
    assert unused.team_id is None, "a row no finding points at stays as it was"
