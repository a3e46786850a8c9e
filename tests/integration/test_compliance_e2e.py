"""Compliance end to end, on real parts: an image built through the portal by a real worker, with a
real pip inside it installing old versions of (test-made) Python packages from the team's code
package, and a private key added in one layer and deleted in a later one. Then OSV imports drive
the findings, the verdict, the gate and the alert webhook. One build serves every step."""
import csv
import datetime
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from builds.models import Build
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, Component, ComponentVersion
from catalog.starter import apt_install
from compliance.exceptions.services import exception_decide, exception_request
from compliance.gate import GateClosed, image_publish
from compliance.models import PolicyException
from tests.conftest import wait_for_build
from tests.integration import e2e_data as data

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
KEY_PATH = "etc/deploy/id_ed25519.pem"


class WebhookReceiver:
    """A real HTTP server on loopback that keeps every JSON body POSTed to it."""

    def __init__(self):
        self.bodies = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                received.append((self.headers.get("Content-Type"), json.loads(self.rfile.read(length))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/portal"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(settings):
    settings.ALERT_WEBHOOK_ALLOW_LOCAL = True  # a receiver on this host
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def option_version(slug, fragment, requires=()):
    component = Component.objects.create(slug=slug, name=slug, kind="option", order_weight=40)
    return ComponentVersion.objects.create(component=component, version="1", os_families=["debian"],
                                           fragment=fragment, requires=list(requires))


def layer_of(build, text):
    """Index (in the manifest's layers) of the one layer whose history entry contains `text`."""
    history = [h for h in build.scan.facts["config"]["history"] if not h.get("empty_layer")]
    [index] = [i for i, h in enumerate(history) if text in h.get("created_by", "")]
    return index


def findings_of(build):
    return {(f.vulnerability_id, f.advisory.osv_id, f.package.name, f.installed_version, f.fixed_version, f.severity,
             f.severity_source) for f in build.scan.findings.select_related("package", "advisory")}


def latest_verdict(build):
    return build.verdicts.order_by("-created", "-pk").first()


def statuses(verdict):
    return {r["rule"]: r["status"] for r in verdict.results}


def osv_import(tmp_path, name, records) -> str:
    """What `manage.py vulndb_import` prints: the import, then the re-evaluation it runs."""
    out = io.StringIO()
    call_command("vulndb_import", "osv", str(data.write_records(tmp_path / name, records)), stdout=out)
    return out.getvalue()


def test_it_finds_old_pip_packages_and_a_deleted_key_then_follows_the_database_to_an_alert(
        starter_catalog, vulnerability_data, celery_worker, team, member, reviewer, webhook, tmp_path, client):
    team.webhook_url = webhook.url
    team.save()
    python = option_version("e2e-python", apt_install("python3-pip"))
    # ca-certificates (a python3-pip dependency) brings openssl: the key is made in the build,
    # so the Dockerfile and the image history never hold it, only the layer does.
    key = option_version("e2e-deploy-key", "RUN mkdir -p /etc/deploy && openssl genpkey -algorithm ed25519 -out /"
                         + KEY_PATH, requires=["e2e-python"])
    recipe = recipe_save(user=member, team=team, name="pyapp", base=BaseImage.objects.get(slug="debian-12"),
                         choices=[(python, {}), (key, {}),
                                  (ComponentVersion.objects.get(component__slug="runtime-user"), {"uid": "10001"})],
                         artifact=SimpleUploadedFile("app.tar.gz", data.code_package()))
    build = wait_for_build(build_request(user=member, recipe=recipe))
    assert build.status == Build.Status.SUCCEEDED, build.error_message

    # -- the SBOM: pip's own metadata, written by a real pip in the no-network image stage
    script_layer = layer_of(build, "sh /tmp/portal-paas/image-env.sh")
    pypi = {(p.name, p.version, p.layer_index) for p in build.scan.packages.filter(type="pypi", name__icontains="e2e")}
    assert pypi == {(data.PARSER, "1.0.2", script_layer), (data.HTTP, "0.9.0", script_layer)}
    # Debian's pip is the deb that installed it, not a PyPI package as well (compliance/sbom/ownership.py)
    assert build.scan.packages.filter(type="deb", name="python3-pip").exists()
    assert not build.scan.packages.filter(type="pypi", name="pip").exists()
    paths = {p["name"]: p["path"] for p in build.scan.facts["packages"] if p["type"] == "pypi"}
    assert paths[data.PARSER] == "usr/local/lib/python3.11/dist-packages/portal_e2e_parser-1.0.2.dist-info/METADATA"

    # -- the key: found in the layer that added it, and known to be deleted above it
    key_layer = layer_of(build, "openssl genpkey")
    assert key_layer < script_layer
    secrets = [s for s in build.scan.facts["secrets"]]
    assert [(s["path"], s["layer_index"], s["rule"], s["deleted_in_later_layer"], s["where"]) for s in secrets] == [
        (KEY_PATH, key_layer, "private-key", True, "file")]
    first = latest_verdict(build)
    assert not first.passed and {r for r, s in statuses(first).items() if s == "fail"} == {"no-secrets-in-layers"}
    assert build.steps["publish"]["status"] == "blocked" and build.published_reference == ""

    # -- import v1: two fixable advisories for the old parser, one unfixed for its dependency,
    # one whose range ends before the installed version
    osv_import(tmp_path, "v1", [
        data.osv_record("PORTALTEST-2026-1", data.PARSER_OSV, [[("introduced", "0"), ("fixed", "1.0.5")]],
                        modified="2026-02-01T00:00:00Z", aliases=["CVE-2026-990001"],
                        severity=[{"type": "CVSS_V3", "score": data.CRITICAL_VECTOR}]),
        data.osv_record("PORTALTEST-2026-2", data.PARSER_OSV,
                        [[("introduced", "1.0.0"), ("fixed", "1.1.0")], [("introduced", "2.0.0"), ("fixed", "2.1.0")]],
                        modified="2026-02-01T00:00:00Z", label="HIGH"),
        data.osv_record("PORTALTEST-2026-3", data.HTTP, [[("introduced", "0")]], modified="2026-02-01T00:00:00Z",
                        severity=[{"type": "CVSS_V3", "score": data.HIGH_VECTOR}]),
        data.osv_record("PORTALTEST-2026-4", data.PARSER_OSV, [[("introduced", "0"), ("fixed", "1.0.0")]],
                        modified="2026-02-01T00:00:00Z", label="CRITICAL"),
    ])
    assert findings_of(build) == {
        ("CVE-2026-990001", "PORTALTEST-2026-1", data.PARSER, "1.0.2", "1.0.5", "Critical", "cvss-v3.1:9.8"),
        ("PORTALTEST-2026-2", "PORTALTEST-2026-2", data.PARSER, "1.0.2", "1.1.0", "High", "record"),
        ("PORTALTEST-2026-3", "PORTALTEST-2026-3", data.HTTP, "0.9.0", "", "High", "cvss-v3.1:7.5"),
    }
    # the pages read the same findings: the report's CSV, and the CVE's impact by its alias
    client.force_login(reviewer)
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("image-report-csv", args=[build.pk])).content.decode())))
    assert {(r["origin"], r["origin_kind"]) for r in rows} == {(".paas/image-env.sh", "script")}, "named by what added them"
    assert sorted((r["vulnerability"], r["package"], r["installed_version"], r["fixed_version"], r["layer"])
                  for r in rows) == [
        ("CVE-2026-990001", data.PARSER, "1.0.2", "1.0.5", str(script_layer)),
        ("PORTALTEST-2026-2", data.PARSER, "1.0.2", "1.1.0", str(script_layer)),
        ("PORTALTEST-2026-3", data.HTTP, "0.9.0", "", str(script_layer))]
    [impact] = csv.DictReader(io.StringIO(client.get(
        reverse("vulnerability-impact", args=["CVE-2026-990001"]) + "?format=csv").content.decode()))
    assert (impact["team"], impact["digest"], impact["package"]) == (team.slug, build.digest, data.PARSER)
    blocked = latest_verdict(build)
    assert blocked.trigger == "reevaluation" and not blocked.passed
    assert {r for r, s in statuses(blocked).items() if s == "fail"} == {"no-secrets-in-layers", "vulnerability-threshold"}
    # (the registry is not asked: an earlier run of this test published the same digest under the same tag)
    with pytest.raises(GateClosed, match="Blocked by policy"):
        image_publish(build=build, actor=member)
    build.refresh_from_db()
    assert build.published_reference == ""

    # -- the key was rotated: a reviewer accepts the leftover layer for this image only
    exception = exception_request(
        user=member, scope=PolicyException.Scope.IMAGE, recipe=recipe, digest=build.digest,
        target_kind=PolicyException.Target.RULE, target="no-secrets-in-layers",
        reason=PolicyException.Reason.ACCEPTED_RISK, expires_at=timezone.now() + datetime.timedelta(days=7),
        justification="The deploy key in layer 2 was revoked on the server; the rebuild without it is scheduled.")
    exception_decide(user=reviewer, exception=exception, approve=True)
    excepted = latest_verdict(build)
    assert statuses(excepted)["no-secrets-in-layers"] == "waived" and not excepted.passed

    # -- import v2: one advisory withdrawn, one corrected so its range no longer covers 1.0.2:
    # the unfixed one is left and does not block (only fixable Critical/High do)
    osv_import(tmp_path, "v2", [
        data.osv_record("PORTALTEST-2026-1", data.PARSER_OSV, [[("introduced", "0"), ("fixed", "1.0.5")]],
                        modified="2026-03-01T00:00:00Z", aliases=["CVE-2026-990001"], withdrawn="2026-03-01T00:00:00Z",
                        severity=[{"type": "CVSS_V3", "score": data.CRITICAL_VECTOR}]),
        data.osv_record("PORTALTEST-2026-2", data.PARSER_OSV, [[("introduced", "1.0.0"), ("fixed", "1.0.1")]],
                        modified="2026-03-01T00:00:00Z", label="HIGH"),
    ])
    assert findings_of(build) == {
        ("PORTALTEST-2026-3", "PORTALTEST-2026-3", data.HTTP, "0.9.0", "", "High", "cvss-v3.1:7.5")}
    cleared = latest_verdict(build)
    assert cleared.passed and cleared.trigger == "reevaluation", cleared.results
    assert webhook.bodies == [], "a verdict that turns compliant sends no alert"
    reference = image_publish(build=build, actor=member)
    assert reference.endswith(f"@{build.digest}")

    # -- import v3: the dependency's advisory now has a fix, so it blocks: the published image
    # turns non-compliant, stays published, and the team's webhook hears about it
    printed = osv_import(tmp_path, "v3", [
        data.osv_record("PORTALTEST-2026-3", data.HTTP, [[("introduced", "0"), ("fixed", "0.9.1")]],
                        modified="2026-04-01T00:00:00Z", severity=[{"type": "CVSS_V3", "score": data.HIGH_VECTOR}]),
    ])
    assert "updated 1," in printed and "1 turned non-compliant, 1 alerts sent" in printed, printed
    flipped = latest_verdict(build)
    assert not flipped.passed and {r for r, s in statuses(flipped).items() if s == "fail"} == {"vulnerability-threshold"}
    assert len(webhook.bodies) == 1, webhook.bodies
    content_type, body = webhook.bodies[0]
    assert content_type == "application/json"
    assert body["event"] == "image.noncompliant" and body["team"] == team.slug
    assert (body["image"], body["digest"], body["build"], body["verdict"]) == (reference, build.digest, build.pk, flipped.pk)
    assert body["database_version"] == flipped.database_version is not None
    [failing] = body["failing_rules"]
    assert failing["rule"] == "vulnerability-threshold" and "PORTALTEST-2026-3" in failing["message"]
    build.refresh_from_db()
    assert build.published_reference == reference, "pulls are never blocked: the image stays published"
