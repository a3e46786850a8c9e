"""Importing advisories into the database and matching SBOMs against them."""
import json

import pytest

from builds.services import build_request
from compliance.models import Advisory, AffectedPackage, ImageScan, ImportRun, SbomPackage
from compliance.vulndb.matching import scan_match
from compliance.vulndb.store import vulndb_import

pytestmark = pytest.mark.django_db


def osv(id, modified="2024-01-01T00:00:00Z", *, ecosystem="Debian:12", name="openssl", fixed="3.0.11-1~deb12u2",
        severity=None, withdrawn=None, urgency=None):
    record = {"id": id, "modified": modified, "aliases": [f"CVE-{id[-4:]}-0001"], "summary": f"{name} issue",
              "affected": [{"package": {"ecosystem": ecosystem, "name": name},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}] + ([{"fixed": fixed}] if fixed else [])}]}]}
    if severity:
        record["severity"] = [{"type": "CVSS_V3", "score": severity}]
    if withdrawn:
        record["withdrawn"] = withdrawn
    if urgency:
        record["affected"][0]["ecosystem_specific"] = {"urgency": urgency}
    return record


def write(tmp_path, *records):
    folder = tmp_path / "osv"
    folder.mkdir(exist_ok=True)
    for record in records:
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    return str(folder)


def test_it_imports_idempotently_and_updates_by_modified(tmp_path):
    path = write(tmp_path, osv("DEB-2024-0001"), osv("DEB-2024-0002", name="zlib", fixed=None))
    run, changed = vulndb_import(source="osv", path=path)
    assert (run.status, run.added, run.updated, run.unchanged) == ("done", 2, 0, 0)
    assert changed == {("Debian:12", "openssl"), ("Debian:12", "zlib")}
    run, changed = vulndb_import(source="osv", path=path)
    assert (run.added, run.updated, run.unchanged, changed) == (0, 0, 2, set())
    path = write(tmp_path, osv("DEB-2024-0001", modified="2024-02-01T00:00:00Z", fixed="3.0.13-1~deb12u1"))
    run, changed = vulndb_import(source="osv", path=path)
    assert (run.updated, run.unchanged, changed) == (1, 1, {("Debian:12", "openssl")})
    assert AffectedPackage.objects.get(advisory__osv_id="DEB-2024-0001").ranges[0]["events"][1] == {"fixed": "3.0.13-1~deb12u1"}


def test_it_retires_withdrawn_records_and_counts_rejections(tmp_path):
    vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001")))
    path = write(tmp_path, osv("DEB-2024-0001", modified="2024-03-01T00:00:00Z", withdrawn="2024-03-01T00:00:00Z"))
    (tmp_path / "osv" / "broken.json").write_text('{"id": "X-1", "modified": "yesterday"}')
    run, changed = vulndb_import(source="osv", path=path)
    assert (run.withdrawn, run.rejected) == (1, 1)
    assert "modified" in run.rejections[0]["reason"]
    assert Advisory.objects.get(osv_id="DEB-2024-0001").withdrawn is not None
    assert not AffectedPackage.objects.exists()
    assert changed == {("Debian:12", "openssl")}


def test_it_fails_an_import_of_a_missing_path_with_a_reason(tmp_path):
    run, _ = vulndb_import(source="osv", path=str(tmp_path / "nope"))
    assert run.status == ImportRun.Status.FAILED and run.error


@pytest.fixture
def scan(recipe, member):  # noqa: F811
    build = build_request(user=member, recipe=recipe)
    scan = ImageScan.objects.create(build=build, digest="sha256:" + "9" * 64, status="done", os_id="debian", os_version="12")
    SbomPackage.objects.bulk_create([
        # binary libssl3 comes from source openssl; advisories name the source
        SbomPackage(scan=scan, name="libssl3", version="3.0.11-1~deb12u1", source_name="openssl", source_version="3.0.11-1~deb12u1"),
        SbomPackage(scan=scan, name="zlib1g", version="1:1.2.13.dfsg-1", source_name="zlib", source_version="1:1.2.13.dfsg-1"),
        SbomPackage(scan=scan, type="pypi", name="Jinja2", version="2.10"),
    ])
    return scan


def test_it_matches_source_packages_grades_and_reports_unfixed(tmp_path, scan):
    vulndb_import(source="osv", path=write(
        tmp_path,
        osv("DEB-2024-0001", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        osv("DEB-2024-0002", name="zlib", fixed=None, urgency="unimportant"),
        osv("DEB-2024-0003", name="openssl", fixed="3.0.9-1"),  # already fixed in the installed version
        osv("PYSEC-2019-0004", ecosystem="PyPI", name="jinja2", fixed="2.10.1"),
        osv("DEB-2024-0005", ecosystem="Debian:11", name="openssl"),  # another release
    ))
    findings = {f.advisory.osv_id: f for f in scan_match(scan)}
    assert set(findings) == {"DEB-2024-0001", "DEB-2024-0002", "PYSEC-2019-0004"}
    openssl = findings["DEB-2024-0001"]
    assert (openssl.package.name, openssl.installed_version, openssl.fixed_version) == ("libssl3", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2")
    assert (openssl.severity, openssl.severity_source) == ("Critical", "cvss-v3.1:9.8")
    assert openssl.vulnerability_id == "CVE-0001-0001"
    zlib = findings["DEB-2024-0002"]
    assert (zlib.fixed_version, zlib.severity) == ("", "Negligible")
    assert findings["PYSEC-2019-0004"].fixed_version == "2.10.1"
    assert scan.findings.count() == 3
    scan_match(scan)  # matching again replaces, never duplicates
    assert scan.findings.count() == 3
