"""Our findings beside an imported Trivy or Grype report: the pairing (pure) and the comparison on
realistic shapes stored in the database (Debian binaries vs source-package records, a pip package
our SBOM lacks, a CVE we hold nothing for, a range saying not affected, exceptions)."""
import datetime

import pytest
from django.utils import timezone

from compliance.models import Advisory, AffectedPackage, Finding, ImageScan, PolicyException, SbomPackage
from compliance.reports.compare.pairing import Evidence, FindingFacts, findings_compare, pair_counts
from compliance.reports.compare.selectors import NoComparison, comparison_counts, report_comparison
from compliance.reports.store import external_report_import

DIGEST = "sha256:" + "d" * 64


def facts(id, vid, name, *, advisory="", aliases=(), type="deb", source="", severity="High", version="1", layer=0):
    return FindingFacts(id=id, vulnerability_id=vid, advisory_id=advisory or vid, aliases=aliases, type=type, name=name,
                        source_name=source, version=version, severity=severity, layer_index=layer)


# -- the pairing (pure) ---------------------------------------------------------------------------

def test_it_pairs_a_trivy_binary_with_our_source_package_record_through_its_alias():
    ours = [facts(1, "CVE-2024-0727", "openssl", advisory="DEBIAN-CVE-2024-0727", aliases=("CVE-2024-0727",),
                  source="openssl", severity="Medium")]
    theirs = [facts(10, "CVE-2024-0727", "libssl3", source="openssl", severity="MEDIUM")]
    comparison = findings_compare(tool="trivy", ours=ours, theirs=theirs, evidence=Evidence())
    [row] = comparison.rows
    assert (row.group, row.ours.id, row.theirs.id, row.reason) == ("both", 1, 10, "")
    assert comparison.counts() == {"both": 1, "ours": 0, "other": 0, "severity_differs": 0}


def test_it_pairs_by_any_shared_id_and_pep503_names_and_flags_severities_that_differ():
    ours = [facts(1, "CVE-2020-28493", "jinja2", advisory="PYSEC-2021-66", aliases=("CVE-2020-28493", "GHSA-g3rq-g295-4j3m"),
                  type="pypi", severity="Medium")]
    theirs = [facts(10, "GHSA-g3rq-g295-4j3m", "Jinja2", type="pypi", severity="High")]
    [row] = findings_compare(tool="grype", ours=ours, theirs=theirs, evidence=Evidence()).rows
    assert (row.group, row.reason, row.detail) == ("both", "severity-differs", "ours Medium, Grype High")
    assert pair_counts(ours, theirs) == {"both": 1, "ours": 0, "other": 0, "severity_differs": 1}


def test_it_pairs_a_binary_by_name_before_its_source_and_never_twice_by_source():
    ours = [facts(1, "CVE-1", "libssl3", aliases=(), source="openssl"), facts(2, "CVE-1", "openssl", source="openssl")]
    theirs = [facts(10, "CVE-1", "libssl3", source="openssl"), facts(11, "CVE-1", "libssl-dev", source="openssl")]
    comparison = findings_compare(tool="trivy", ours=ours, theirs=theirs, evidence=Evidence())
    pairs = {(r.theirs.id if r.theirs else None, r.ours.id if r.ours else None): r.group for r in comparison.rows}
    # libssl3 pairs by name; libssl-dev only by source, with our openssl (still unpaired then)
    assert pairs == {(10, 1): "both", (11, 2): "both"}


def test_it_does_not_pair_other_packages_or_other_vulnerabilities():
    ours = [facts(1, "CVE-1", "curl", severity="Low"), facts(2, "CVE-3", "libexpat1")]
    theirs = [facts(10, "CVE-1", "libcurl4", type="deb"), facts(11, "CVE-2", "curl")]
    comparison = findings_compare(tool="trivy", ours=ours, theirs=theirs, evidence=Evidence(sbom_names=frozenset()))
    assert comparison.counts() == {"both": 0, "ours": 2, "other": 2, "severity_differs": 0}
    reasons = {(r.group, r.finding.id): (r.reason, r.detail) for r in comparison.rows}
    assert reasons[("ours", 1)] == ("tool-other-package", "Trivy reports it on libcurl4")
    assert reasons[("ours", 2)] == ("unknown", "Trivy reports nothing on libexpat1")


def test_it_says_when_our_advisory_has_no_id_a_tool_would_print():
    ours = [facts(1, "DEBIAN-2024-1", "curl", aliases=())]
    [row] = findings_compare(tool="trivy", ours=ours, theirs=[], evidence=Evidence()).rows
    assert (row.group, row.reason) == ("ours", "no-shared-id")


# -- the comparison on stored data ----------------------------------------------------------------

def trivy_report(*vulnerabilities, pip=()):
    results = [{"Target": "pay-api:1 (debian 12.5)", "Class": "os-pkgs", "Type": "debian",
                "Vulnerabilities": [dict(zip(("VulnerabilityID", "PkgName", "InstalledVersion", "Severity"), v))
                                    for v in vulnerabilities]}]
    if pip:
        results.append({"Target": "app/requirements.txt", "Class": "lang-pkgs", "Type": "pip",
                        "Vulnerabilities": [dict(zip(("VulnerabilityID", "PkgName", "InstalledVersion", "Severity"), v))
                                            for v in pip]})
    return {"SchemaVersion": 2, "ArtifactName": "pay-api:1",
            "Metadata": {"OS": {"Family": "debian", "Name": "12.5"}, "RepoDigests": [f"r/pay-api@{DIGEST}"]},
            "Results": results}


def ours(scan, package, osv_id, cve, severity, *, fixed=""):
    advisory = Advisory.objects.create(source="osv", osv_id=osv_id, modified=timezone.now(), aliases=[cve] if cve else [])
    AffectedPackage.objects.create(advisory=advisory, ecosystem="Debian:12", name=package.source_name or package.name,
                                   ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, *([{"fixed": fixed}] if fixed else [])]}])
    return Finding.objects.create(scan=scan, package=package, advisory=advisory, vulnerability_id=cve or osv_id,
                                  installed_version=package.source_version or package.version, fixed_version=fixed,
                                  severity=severity, severity_source="debian-urgency")


@pytest.fixture
def image(build):
    build.digest, build.status, build.quarantine_repository = DIGEST, "succeeded", "quarantine/payments/pay-api"
    build.save()
    scan = ImageScan.objects.create(build=build, digest=DIGEST, status="done", os_id="debian", os_version="12")

    def package(name, version, source):
        return SbomPackage.objects.create(scan=scan, name=name, version=version, source_name=source,
                                          source_version=version, layer_index=0)

    ssl = package("libssl3", "3.0.11-1~deb12u1", "openssl")
    zlib = package("zlib1g", "1:1.2.13.dfsg-1", "zlib")
    package("apt", "2.6.1", "apt")
    libc = package("libc6", "2.36-9+deb12u4", "glibc")
    curl = package("libcurl4", "7.88.1-10+deb12u5", "curl")
    expat = package("libexpat1", "2.5.0-1", "expat")
    ours(scan, ssl, "DEBIAN-CVE-2024-0727", "CVE-2024-0727", "Medium", fixed="3.0.13-1~deb12u1")
    ours(scan, zlib, "DEBIAN-CVE-2023-45853", "CVE-2023-45853", "Critical")
    ours(scan, curl, "DEBIAN-CVE-2024-9999", "CVE-2024-9999", "High")
    ours(scan, expat, "DEBIAN-CVE-2024-45490", "CVE-2024-45490", "High")
    # Our record for glibc says fixed in deb12u3: the installed deb12u4 is not affected, so no finding.
    advisory = Advisory.objects.create(source="osv", osv_id="DEBIAN-CVE-2023-4911", modified=timezone.now(),
                                       aliases=["CVE-2023-4911"])
    AffectedPackage.objects.create(advisory=advisory, ecosystem="Debian:12", name="glibc", ranges=[
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u3"}]}])
    del libc
    external_report_import(build=build, tool="trivy", data=trivy_report(
        ("CVE-2024-0727", "libssl3", "3.0.11-1~deb12u1", "MEDIUM"),
        ("CVE-2023-45853", "zlib1g", "1:1.2.13.dfsg-1", "HIGH"),
        ("CVE-2011-3374", "apt", "2.6.1", "LOW"),
        ("CVE-2023-4911", "libc6", "2.36-9+deb12u4", "HIGH"),
        pip=[("GHSA-h5c8-rqwp-cp95", "Jinja2", "2.10", "CRITICAL")]))
    return build


def approve_exception(build, target):
    return PolicyException.objects.create(
        scope="recipe", team=build.team, recipe=build.recipe, target_kind="vulnerability", target=target,
        reason="not_affected", justification="Not reachable in this service.", end_when_fixed=False,
        expires_at=timezone.now() + datetime.timedelta(days=30), status="approved", requested_by=build.requested_by)


@pytest.mark.django_db
def test_it_compares_our_scan_with_trivys_on_realistic_shapes(image):
    curl_exception = approve_exception(image, "CVE-2024-9999")
    apt_exception = approve_exception(image, "CVE-2011-3374")
    comparison = report_comparison(build=image, tool="trivy")
    rows = {(row.group, row.finding.vulnerability_id): row for row in comparison.rows}
    assert comparison.counts() == {"both": 2, "ours": 2, "other": 3, "severity_differs": 1}

    ssl = rows[("both", "CVE-2024-0727")]
    assert (ssl.ours.advisory_id, ssl.theirs.name, ssl.reason) == ("DEBIAN-CVE-2024-0727", "libssl3", "")
    zlib = rows[("both", "CVE-2023-45853")]
    assert (zlib.reason, zlib.detail) == ("severity-differs", "ours Critical, Trivy High")

    jinja = rows[("other", "GHSA-h5c8-rqwp-cp95")]
    assert (jinja.reason, jinja.reason_label) == ("not-in-sbom", "Package not in our SBOM")
    assert jinja.theirs.layer_index is None
    apt = rows[("other", "CVE-2011-3374")]
    assert apt.reason == "no-advisory" and "CVE-2011-3374" in apt.detail
    assert apt.status == f"Excepted: exception {apt_exception.pk} until {apt_exception.expires_at:%Y-%m-%d}"
    glibc = rows[("other", "CVE-2023-4911")]
    assert glibc.reason == "not-affected"
    assert glibc.detail == "DEBIAN-CVE-2023-4911 for glibc: fixed 2.36-9+deb12u3; installed 2.36-9+deb12u4"

    curl = rows[("ours", "CVE-2024-9999")]
    assert (curl.reason, curl.detail) == ("excepted", f"exception {curl_exception.pk} until {curl_exception.expires_at:%Y-%m-%d}")
    expat = rows[("ours", "CVE-2024-45490")]
    assert (expat.reason, expat.status) == ("unknown", "Open")
    assert [row.group for row in comparison.rows] == ["both"] * 2 + ["ours"] * 2 + ["other"] * 3


@pytest.mark.django_db
def test_it_names_other_packages_and_a_stale_match(image):
    scan = image.scan
    # We hold CVE-2011-3374, for another package only: the reason names where our data puts it.
    advisory = Advisory.objects.create(source="osv", osv_id="DEBIAN-CVE-2011-3374", modified=timezone.now(),
                                       aliases=["CVE-2011-3374"])
    AffectedPackage.objects.create(advisory=advisory, ecosystem="Debian:12", name="apt-listchanges", ranges=[])
    # And our glibc record now says the installed version is affected: our findings predate it.
    AffectedPackage.objects.filter(advisory__osv_id="DEBIAN-CVE-2023-4911").update(ranges=[
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u9"}]}])
    rows = {row.finding.vulnerability_id: row for row in report_comparison(build=image, tool="trivy").rows}
    assert (rows["CVE-2011-3374"].reason, rows["CVE-2011-3374"].detail) == (
        "other-package", "DEBIAN-CVE-2011-3374 names Debian:12/apt-listchanges, not Debian:12/apt")
    assert rows["CVE-2023-4911"].reason == "stale-match"
    # The report saw another version of a package our scan read: it says which, before any range.
    external_report_import(build=image, tool="grype", data={"matches": [
        {"vulnerability": {"id": "CVE-2024-28757", "severity": "High"},
         "artifact": {"name": "libexpat1", "version": "2.5.0-1+deb12u1", "type": "deb", "upstreams": [{"name": "expat"}]}}],
        "source": {"type": "image", "target": {"manifestDigest": DIGEST}}})
    [expat] = [r for r in report_comparison(build=image, tool="grype").rows if r.group == "other"]
    assert (expat.reason, expat.detail) == ("other-version", "our scan read libexpat1 2.5.0-1; the report names 2.5.0-1+deb12u1")
    assert scan.findings.filter(advisory__source__in=("osv", "trivy")).count() == 9  # reading the comparison wrote nothing


@pytest.mark.django_db
def test_it_reads_in_a_fixed_number_of_queries(image, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):
        report_comparison(build=image, tool="trivy")
    with django_assert_max_num_queries(3):
        assert comparison_counts(build=image, scan=image.scan) == {
            "trivy": {"both": 2, "ours": 2, "other": 3, "severity_differs": 1}}


@pytest.mark.django_db
def test_it_says_when_there_is_nothing_to_compare(image, build):
    with pytest.raises(NoComparison, match="No Grype report"):
        report_comparison(build=image, tool="grype")
    ImageScan.objects.filter(pk=image.scan.pk).update(status="failed")
    with pytest.raises(NoComparison, match="no finished scan"):
        report_comparison(build=image, tool="trivy")


# -- the page and its CSV -------------------------------------------------------------------------

def csv_rows(response) -> list[dict]:
    import csv
    import io
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.django_db
def test_it_links_the_comparison_from_the_image_report_with_its_counts(client, image, member):
    client.force_login(member)
    page = client.get(f"/builds/{image.pk}/report").content.decode()
    assert "Trivy: 2 found by both · 2 only ours · 3 only Trivy · 1 with a different severity" in page
    assert f'href="/builds/{image.pk}/report/compare?tool=trivy"' in page


@pytest.mark.django_db
@pytest.mark.usefixtures("pages_uncached")  # it reads response.context
def test_it_shows_the_rows_and_exports_the_same_rows_for_the_same_filters(client, image, member):
    approve_exception(image, "CVE-2024-9999")
    client.force_login(member)
    url = f"/builds/{image.pk}/report/compare"
    page = client.get(url + "?tool=trivy").content.decode()
    assert "Trivy: 2 found by both · 2 only ours · 3 only Trivy" in page
    assert "Package not in our SBOM" in page and "Our data says this version is not affected" in page
    for query in ("?tool=trivy", "?tool=trivy&group=other", "?tool=trivy&group=ours&reason=excepted", "?tool=trivy&q=lib",
                  "?group=both"):
        response = client.get(url + query)
        shown = response.content.decode().count("<tr data-group=")
        exported = csv_rows(client.get(url + ".csv" + query))
        assert len(exported) == shown == len(response.context["rows"]), query
        assert f'href="/builds/{image.pk}/report/compare.csv{query}"'.replace("&", "&amp;") in response.content.decode()
    exported = {(r["group"], r["vulnerability"]): r for r in csv_rows(client.get(url + ".csv?tool=trivy"))}
    jinja = exported[("other", "GHSA-h5c8-rqwp-cp95")]
    assert (jinja["origin"], jinja["status"], jinja["reason"], jinja["tool_severity"]) == (
        "report-only", "Open", "not-in-sbom", "Critical")
    curl = exported[("ours", "CVE-2024-9999")]
    assert (curl["origin"], curl["reason"], curl["our_advisory"]) == ("base", "excepted", "DEBIAN-CVE-2024-9999")
    assert curl["origin_label"].startswith("base ") and jinja["origin_label"] == "not in our SBOM"
    assert f"<td>{curl['origin_label']}</td>" in client.get(url + "?tool=trivy").content.decode()
    assert curl["status"].startswith("Excepted: exception ")
    assert exported[("both", "CVE-2023-45853")]["reason"] == "severity-differs"


@pytest.mark.django_db
def test_an_htmx_filter_change_moves_the_export_link_along(client, image, member):
    client.force_login(member)
    response = client.get(f"/builds/{image.pk}/report/compare?tool=trivy&group=other", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.templates[0].name == "compliance/_compare_rows.html"
    assert f'href="/builds/{image.pk}/report/compare.csv?tool=trivy&amp;group=other" class="button" hx-swap-oob="true"' in html
    assert "3 rows match." in html and "HX-Request" in response["Vary"]


@pytest.mark.django_db
def test_it_offers_each_imported_tool_and_says_when_there_is_nothing_to_compare(client, image, member, build):
    from tests.compliance.reports.test_parse_and_store import GRYPE
    client.force_login(member)
    external_report_import(build=image, tool="grype", data=GRYPE)
    page = client.get(f"/builds/{image.pk}/report/compare?tool=grype").content.decode()
    assert 'aria-label="Compare with"' in page and "Grype: " in page
    assert client.get(f"/builds/{image.pk}/report/compare").context["filters"]["tool"] == "trivy"
    ImageScan.objects.filter(pk=image.scan.pk).update(status="failed")
    page = client.get(f"/builds/{image.pk}/report/compare?tool=trivy").content.decode()
    assert "no finished scan to compare" in page
    assert len(csv_rows(client.get(f"/builds/{image.pk}/report/compare.csv?tool=trivy"))) == 0


@pytest.mark.django_db
def test_the_page_and_csv_are_for_the_images_viewers_only(client, image, outsider, reviewer):
    url = f"/builds/{image.pk}/report/compare"
    assert client.get(url).status_code == 302 and client.get(url + ".csv").status_code == 302
    client.force_login(outsider)
    assert client.get(url).status_code == 404 and client.get(url + ".csv").status_code == 404
    client.force_login(reviewer)
    assert client.get(url).status_code == 200 and len(csv_rows(client.get(url + ".csv"))) == 7


# -- the API --------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_api_answers_counts_and_paginated_rows_under_the_pages_filters(client, image, member):
    from tests.compliance.reports.test_parse_and_store import api_for
    api = api_for(member)
    url = f"/api/builds/{image.pk}/reports/compare/"
    body = api.get(url).json()
    assert (body["tool"], body["tools"], body["count"]) == ("trivy", ["trivy"], 7)
    assert body["counts"] == {"both": 2, "ours": 2, "other": 3, "severity_differs": 1}
    first = body["results"][0]
    assert set(first) == {"group", "vulnerability_id", "package", "origin", "origin_label", "status", "reason", "reason_label", "detail",
                          "severity_differs", "ours", "theirs"}
    glibc = next(r for r in body["results"] if r["vulnerability_id"] == "CVE-2023-4911")
    assert (glibc["group"], glibc["reason"], glibc["ours"], glibc["theirs"]["package"]) == ("other", "not-affected", None, "libc6")
    ssl = next(r for r in body["results"] if r["vulnerability_id"] == "CVE-2024-0727")
    assert ssl["ours"]["advisory"] == "DEBIAN-CVE-2024-0727" and ssl["ours"]["aliases"] == ["CVE-2024-0727"]

    paged = api.get(url, {"tool": "trivy", "limit": 2, "offset": 2}).json()
    assert paged["count"] == 7 and len(paged["results"]) == 2 and paged["next"] and paged["previous"]
    assert [r["vulnerability_id"] for r in paged["results"]] == [r["vulnerability_id"] for r in body["results"][2:4]]
    client.force_login(member)
    for query in ({"group": "other"}, {"reason": "not-in-sbom"}, {"q": "lib", "group": "both"}):
        api_rows = api.get(url, query).json()["results"]
        page_rows = client.get(f"/builds/{image.pk}/report/compare", query).context["rows"]
        assert [(r["group"], r["vulnerability_id"]) for r in api_rows] == [(r.group, r.finding.vulnerability_id)
                                                                           for r, _ in page_rows], query


@pytest.mark.django_db
def test_the_api_refuses_unknown_filters_and_says_when_there_is_nothing_to_compare(image, build, member):
    from tests.compliance.reports.test_parse_and_store import api_for
    api = api_for(member)
    url = f"/api/builds/{image.pk}/reports/compare/"
    for query in ({"tool": "clair"}, {"group": "all"}, {"reason": "nope"}, {"limit": "x"}):
        assert api.get(url, query).status_code == 400, query
    response = api.get(url, {"tool": "grype"})
    assert response.status_code == 404 and "No Grype report" in response.json()["detail"]


@pytest.mark.django_db
def test_the_api_is_for_the_images_viewers_only(image, outsider, reviewer):
    from rest_framework.test import APIClient

    from tests.compliance.reports.test_parse_and_store import api_for
    url = f"/api/builds/{image.pk}/reports/compare/"
    assert APIClient().get(url).status_code == 401
    assert api_for(outsider).get(url).status_code == 404
    assert api_for(reviewer).get(url).json()["count"] == 7


def test_it_shows_the_versions_our_range_names_when_it_says_not_affected():
    from compliance.reports.compare.pairing import AdvisoryEntry, OurAdvisory
    theirs = [FindingFacts(id=10, vulnerability_id="CVE-2024-1", advisory_id="CVE-2024-1", type="deb", name="libcurl4",
                           source_name="curl", version="7.88.1-10", severity="High", layer_index=0,
                           coordinates=("Debian:12", "curl", "7.88.1-10"))]
    never = OurAdvisory(osv_id="DEBIAN-CVE-2024-1", aliases=("CVE-2024-1",), entries=(AdvisoryEntry(
        ecosystem="Debian:12", name="curl", ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0"}]}]),))
    [row] = findings_compare(tool="trivy", ours=[], theirs=theirs, evidence=Evidence(advisories=(never,))).rows
    assert (row.reason, row.detail) == (
        "not-affected", "DEBIAN-CVE-2024-1 for curl: never affected in this release; installed 7.88.1-10")
    later = OurAdvisory(osv_id="DEBIAN-CVE-2024-1", aliases=("CVE-2024-1",), entries=(AdvisoryEntry(
        ecosystem="Debian:12", name="curl", ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "8.0.0-1"}, {"fixed": "8.5.0-1"}]}]),))
    [row] = findings_compare(tool="trivy", ours=[], theirs=theirs, evidence=Evidence(advisories=(later,))).rows
    assert row.detail == "DEBIAN-CVE-2024-1 for curl: introduced 8.0.0-1, fixed 8.5.0-1; installed 7.88.1-10"
