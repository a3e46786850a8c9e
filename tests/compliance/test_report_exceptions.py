"""The image report marks the findings an active exception covers (as the verdict applies it),
filters them in or out, links each vulnerability to its impact page, and its CSV says origin,
which scanner found it and whether it is excepted."""
import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.models import Finding, PolicyException
from compliance.reports.store import external_report_import
from tests.compliance.exceptions.test_services import failing  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def except_(build, target, *, end_when_fixed=False, kind="vulnerability"):
    return PolicyException.objects.create(
        scope="recipe", team=build.team, recipe=build.recipe, target_kind=kind, target=target, reason="accepted_risk",
        justification="Not reachable from the service's code paths at all.", end_when_fixed=end_when_fixed,
        expires_at=timezone.now() + datetime.timedelta(days=9), requested_by=build.requested_by,
        status=PolicyException.Status.APPROVED)


def csv_rows(client, build, **filters) -> list[dict]:
    response = client.get(reverse("image-report-csv", args=[build.pk]), filters)
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_an_excepted_finding_is_marked_and_can_be_hidden_or_shown_alone(client, member, failing):  # noqa: F811
    finding = Finding.objects.get(scan=failing.scan)
    exception = except_(failing, finding.vulnerability_id)
    external_report_import(build=failing, tool="trivy", data={"SchemaVersion": 2, "Results": [
        {"Target": "x (debian 12)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-2030-0002", "PkgName": "zlib1g", "InstalledVersion": "1:1.2.13", "Severity": "LOW"},
            {"VulnerabilityID": "odd/id", "PkgName": "zlib1g", "InstalledVersion": "1:1.2.13", "Severity": "LOW"}]}]})
    client.force_login(member)
    report = reverse("image-report", args=[failing.pk])

    page = client.get(report).content.decode()
    assert "⚑ Excepted" in page and reverse("exception-detail", args=[exception.pk]) in page
    assert f'href="{reverse("vulnerability-impact", args=[finding.vulnerability_id])}"' in page
    assert "odd/id" in page, "an id no URL can carry is shown, without a link"
    hidden = client.get(report, {"excepted": "hide"}).content.decode()
    assert finding.vulnerability_id not in hidden and "CVE-2030-0002" in hidden
    alone = client.get(report, {"excepted": "only"}).content.decode()
    assert finding.vulnerability_id in alone and "CVE-2030-0002" not in alone

    rows = {row["vulnerability"]: row for row in csv_rows(client, failing)}
    assert rows[finding.vulnerability_id]["status"] == f"excepted by exception {exception.pk} until {exception.expires_at:%Y-%m-%d}"
    assert rows[finding.vulnerability_id]["found_by"] == "portal" and rows["CVE-2030-0002"]["found_by"] == "trivy"
    assert rows["CVE-2030-0002"]["status"] == "open" and rows["CVE-2030-0002"]["origin"] == "layer unknown"
    assert rows["CVE-2030-0002"]["origin_kind"] == "unknown"
    assert [row["vulnerability"] for row in csv_rows(client, failing, excepted="hide")] == \
        [v for v in rows if v != finding.vulnerability_id], "the export follows the filter"


def test_an_exception_that_ends_when_fixed_does_not_cover_a_fixable_finding(client, member, failing):  # noqa: F811
    finding = Finding.objects.get(scan=failing.scan)
    assert finding.fixed_version, "the fixture's finding has a fix"
    # an unfixed finding of the same package: the verdict ends the whole exception (a fix exists for
    # the package), so the report covers neither
    Finding.objects.create(scan=finding.scan, package=finding.package, advisory=finding.advisory,
                           vulnerability_id="CVE-2030-0009", installed_version=finding.installed_version, severity="Low")
    except_(failing, finding.package.name, kind="package", end_when_fixed=True)
    client.force_login(member)
    assert "⚑ Excepted" not in client.get(reverse("image-report", args=[failing.pk])).content.decode()
    assert {row["status"] for row in csv_rows(client, failing)} == {"open"}
