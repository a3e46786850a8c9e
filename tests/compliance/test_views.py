"""The image report: findings with filters, counts that agree with the CSV, team-only access."""
import csv
import io
import re

import pytest
from django.urls import reverse

from compliance.models import SbomPackage
from compliance.vulndb.matching import scan_match
from compliance.vulndb.store import vulndb_import
from tests.compliance.vulndb.test_store import osv, scan, write  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def matched(tmp_path, scan):  # noqa: F811
    SbomPackage.objects.filter(scan=scan).update(layer_index=1)
    vulndb_import(source="osv", path=write(
        tmp_path,
        osv("DEB-2024-0001", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        osv("DEB-2024-0002", name="zlib", fixed=None, urgency="unimportant"),
        osv("PYSEC-2019-0004", ecosystem="PyPI", name="jinja2", fixed="2.10.1", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"),
    ))
    scan_match(scan)
    return scan


def test_it_lists_findings_worst_first_with_counts(client, member, matched):
    client.force_login(member)
    page = client.get(reverse("image-report", args=[matched.build.pk])).content.decode()
    assert "3 vulnerabilities · 2 fixable" in page
    assert page.index("CVE-0001-0001") < page.index("CVE-0004-0001") < page.index("CVE-0002-0001")
    assert "No fix yet" in page


def test_it_filters_by_severity_and_fixability_and_the_csv_agrees(client, member, matched):
    client.force_login(member)
    url = reverse("image-report", args=[matched.build.pk])
    page = client.get(url + "?fixable=1").content.decode()
    assert "2 findings match" in page and "CVE-0002-0001" not in page
    page = client.get(url + "?sev=Critical", HTTP_HX_REQUEST="true").content.decode()
    assert "1 finding matches" in page and "<html" not in page
    # the export link lives outside the swapped table: the fragment replaces it out of band, filters and all
    export = re.search(r'<a id="export-csv" href="([^"]+)"[^>]*hx-swap-oob="true"', page)
    assert export and export.group(1).endswith("?sev=Critical"), page[:500]
    rows = list(csv.DictReader(io.StringIO(client.get(export.group(1).replace("&amp;", "&")).content.decode())))
    assert len(rows) == 1 and rows[0]["severity"] == "Critical", rows
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("image-report-csv", args=[matched.build.pk]) + "?fixable=1").content.decode())))
    assert len(rows) == 2
    assert {r["vulnerability"] for r in rows} == {"CVE-0001-0001", "CVE-0004-0001"}
    assert rows[0]["digest"] == matched.build.digest and rows[0]["installed_version"] and rows[0]["fixed_version"]


def test_it_says_when_no_database_was_imported_instead_of_zero(client, member, scan):  # noqa: F811
    client.force_login(member)
    page = client.get(reverse("image-report", args=[scan.build.pk])).content.decode()
    assert "No vulnerability database has been imported yet" in page


def test_it_hides_the_report_from_other_teams(client, outsider, reviewer, matched):
    client.force_login(outsider)
    assert client.get(reverse("image-report", args=[matched.build.pk])).status_code == 404
    assert client.get(reverse("image-report-csv", args=[matched.build.pk])).status_code == 404
    client.force_login(reviewer)
    assert client.get(reverse("image-report", args=[matched.build.pk])).status_code == 200


def test_it_shows_which_images_and_teams_a_cve_affects(client, member, outsider, reviewer, matched):
    from builds.models import Build

    Build.objects.filter(pk=matched.build.pk).update(status="succeeded")
    client.force_login(reviewer)
    page = client.get(reverse("vulnerability-impact", args=["CVE-0001-0001"])).content.decode()
    assert "1 image · 1 team · 1 fixable by a rebuild" in page and "3.0.11-1~deb12u2" in page
    rows = list(csv.reader(io.StringIO(client.get(reverse("vulnerability-impact", args=["CVE-0001-0001"]) + "?format=csv").content.decode())))
    assert rows[1][0] == "payments" and rows[1][4:6] == ["3.0.11-1~deb12u1", "3.0.11-1~deb12u2"]
    client.force_login(outsider)
    page = client.get(reverse("vulnerability-impact", args=["CVE-0001-0001"])).content.decode()
    assert "No current images are affected" in page, "other teams' images stay hidden"
    assert "Not in our vulnerability database" in client.get(reverse("vulnerability-impact", args=["CVE-1999-9999"])).content.decode()


def test_it_summarises_the_fleet_with_counts_that_match_the_report(client, reviewer, matched):
    from builds.models import Build

    Build.objects.filter(pk=matched.build.pk).update(status="succeeded")
    client.force_login(reviewer)
    page = client.get(reverse("security-dashboard")).content.decode()
    assert "1 of 1 scanned" in page
    assert '<span class="tile-value">1</span> fixable Critical and High findings' in page
    assert reverse("vulnerability-impact", args=["CVE-0001-0001"]) in page
    assert client.get(reverse("search") + "?q=cve-0001-0001").url == reverse("vulnerability-impact", args=["CVE-0001-0001"])


def test_it_downloads_the_sbom_as_cyclonedx_from_the_page_and_the_api(client, member, outsider, scan):  # noqa: F811
    import json

    from compliance.sbom.models import ImageFacts, Package
    from tests.builds.test_api import api_for

    facts = ImageFacts(repository="quarantine/payments/pay-api", digest=scan.digest, layer_digests=[], config={},
                       os={"ID": "debian", "VERSION_ID": "12"}, passwd={},
                       packages=[Package(name="libssl3", version="3.0.11-1~deb12u1", source_name="openssl",
                                         source_version="3.0.11-1~deb12u1", architecture="amd64")])
    scan.facts = facts.to_dict()
    scan.save()
    client.force_login(member)
    response = client.get(reverse("image-sbom", args=[scan.build.pk]))
    document = json.loads(response.content)
    assert response["Content-Type"] == "application/vnd.cyclonedx+json"
    assert document["bomFormat"] == "CycloneDX"
    assert any("libssl3" in (c.get("purl") or "") for c in document["components"])
    spdx = client.get(reverse("image-sbom", args=[scan.build.pk]) + "?format=spdx")
    assert spdx["Content-Type"] == "application/spdx+json" and spdx["Content-Disposition"].endswith('.spdx.json"')
    assert [p["name"] for p in json.loads(spdx.content)["packages"]] == ["quarantine/payments/pay-api", "libssl3", "debian"]
    api = api_for(member).get(f"/api/builds/{scan.build.pk}/sbom/")
    assert api.status_code == 200 and json.loads(api.content)["bomFormat"] == "CycloneDX"
    assert api_for(outsider).get(f"/api/builds/{scan.build.pk}/sbom/").status_code == 404
