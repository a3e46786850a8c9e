"""Re-evaluation after an import: only affected images re-matched, verdict flips, owners alerted."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from builds.models import Build
from builds.services import build_request
from compliance.models import ImageScan, SbomPackage, Verdict
from compliance.reevaluation import reevaluate_after_import
from compliance.sbom.models import ImageFacts
from compliance.vulndb_store import vulndb_import
from portal.models import AuditEvent
from tests.builds.test_views import busybox, recipe, runtime_user  # noqa: F401
from tests.compliance.test_vulndb_store import osv, write

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook():
    """A real HTTP receiver on loopback that records what it is sent."""
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


@pytest.fixture
def published(recipe, member, busybox, webhook):  # noqa: F811
    team = recipe.team
    team.webhook_url, team.alert_email = webhook[0], "payments@example.test"
    team.save()
    build = build_request(user=member, recipe=recipe)
    facts = ImageFacts(repository="quarantine/payments/pay-api", digest="sha256:" + "7" * 64,
                       layer_digests=list(busybox.layer_digests), config={"config": {"User": "10001", "Env": []}},
                       os={"ID": "debian", "VERSION_ID": "12"}, packages=[], passwd={})
    scan = ImageScan.objects.create(build=build, digest=facts.digest, status="done", os_id="debian", os_version="12",
                                    facts=facts.to_dict())
    SbomPackage.objects.create(scan=scan, name="libssl3", version="3.0.11-1~deb12u1", source_name="openssl",
                               source_version="3.0.11-1~deb12u1")
    Build.objects.filter(pk=build.pk).update(status="succeeded", digest=facts.digest, published_at=timezone.now(),
                                             published_reference=f"127.0.0.1:5000/published/payments/pay-api:1@{facts.digest}")
    Verdict.objects.create(build=build, passed=True, results=[])
    build.refresh_from_db()
    return build


def test_it_flips_a_published_image_and_alerts_its_team(tmp_path, published, webhook, mailoutbox):
    run, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")))
    counts = reevaluate_after_import(changed)

    assert counts == {"scans": 1, "flipped_to_fail": 1, "flipped_to_pass": 0, "alerts": 1}
    verdict = published.verdicts.order_by("-created").first()
    assert not verdict.passed and verdict.trigger == "reevaluation" and verdict.database_version == run.pk
    failing = [r for r in verdict.results if r["status"] == "fail"]
    assert [r["rule"] for r in failing] == ["vulnerability-threshold"]
    assert "CVE-0001-0001" in failing[0]["message"]
    body = webhook[1][0]
    assert body["event"] == "image.noncompliant" and body["image"] == published.published_reference
    assert body["failing_rules"][0]["rule"] == "vulnerability-threshold"
    assert mailoutbox[0].to == ["payments@example.test"] and "no longer compliant" in mailoutbox[0].subject
    assert AuditEvent.objects.filter(action="alert.noncompliant", target_id=str(published.pk)).exists()
    published.refresh_from_db()
    assert published.published_reference, "never block pulls of images already published"


def test_it_leaves_images_the_changed_records_do_not_name(tmp_path, published, webhook):
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0009", name="curl")))
    assert reevaluate_after_import(changed)["scans"] == 0
    assert published.verdicts.count() == 1
    assert webhook[1] == []


def test_it_flips_back_when_a_record_stops_affecting_the_installed_version(tmp_path, published):
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv("DEB-2024-0001", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")))
    reevaluate_after_import(changed)
    # the advisory is corrected: the installed version was never affected
    _, changed = vulndb_import(source="osv", path=write(tmp_path, osv(
        "DEB-2024-0001", modified="2024-05-01T00:00:00Z", fixed="3.0.0-1", severity="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")))
    counts = reevaluate_after_import(changed)
    assert counts["flipped_to_pass"] == 1
    assert published.verdicts.order_by("-created").first().passed
