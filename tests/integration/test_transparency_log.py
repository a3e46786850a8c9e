"""The optional Rekor upload, against a log on a loopback port that judges entries as Rekor does (no
Rekor server installs here: not on PyPI, npm or Debian 12): a `dsse` entry is taken only if one of
its verifiers verifies the envelope's signature over the DSSE pre-authentication encoding, a
`hashedrekord` only if the signature verifies over the digest; the same content twice answers 409
with the entry's address. Off by default: nothing is sent and rows say so."""
import base64
import hashlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.urls import reverse

from builds import services
from builds.models import Build
from builds.recipes.services import recipe_save
from builds.runner.pipeline import build_run
from builds.services import build_request
from catalog.models import BaseImage, ComponentVersion
from compliance.attestations.transparency import transparency_upload_pending
from compliance.models import Attestation

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
State = Attestation.LogState


def _verifies(public_pem: bytes, signature: bytes, message: bytes = b"", digest: bytes = b"") -> bool:
    key = load_pem_public_key(public_pem)
    try:
        if digest:
            key.verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _pae(payload_type: str, payload: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)


class FakeRekor:
    def __init__(self):
        self.entries: dict[str, dict] = {}  # uuid -> entry
        self.received: list[dict] = []
        self.refuse_all = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body=None, headers=()):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                proposed = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.received.append(proposed)
                status, body, headers = fake.judge(proposed)
                self._answer(status, body, headers)

            def do_GET(self):
                found = self.path.rsplit("/", 1)[-1]
                self._answer(200, {found: fake.entries[found]}) if found in fake.entries else self._answer(404, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def judge(self, proposed):
        if self.refuse_all:
            return 400, {"code": 400, "message": "entry too large"}, ()
        spec = proposed["spec"]
        if proposed["kind"] == "dsse":
            envelope = json.loads(spec["proposedContent"]["envelope"])
            message = _pae(envelope["payloadType"], base64.b64decode(envelope["payload"]))
            keys = [base64.b64decode(k) for k in spec["proposedContent"]["verifiers"]]
            ok = all(any(_verifies(k, base64.b64decode(s["sig"]), message=message) for k in keys)
                     for s in envelope["signatures"])
            content = hashlib.sha256(spec["proposedContent"]["envelope"].encode()).hexdigest()
        elif proposed["kind"] == "hashedrekord":
            digest = bytes.fromhex(spec["data"]["hash"]["value"])
            ok = _verifies(base64.b64decode(spec["signature"]["publicKey"]["content"]),
                           base64.b64decode(spec["signature"]["content"]), digest=digest)
            content = spec["data"]["hash"]["value"] + spec["signature"]["content"]
        else:
            return 400, {"message": f"unknown kind {proposed['kind']}"}, ()
        if not ok:
            return 400, {"code": 400, "message": "signature does not verify"}, ()
        entry_uuid = hashlib.sha256(content.encode()).hexdigest()
        if entry_uuid in self.entries:
            return 409, {"message": "an equivalent entry already exists"}, [("Location", f"/api/v1/log/entries/{entry_uuid}")]
        entry = {"logIndex": len(self.entries), "integratedTime": 1_800_000_000 + len(self.entries), "logID": "fa" * 32,
                 "body": base64.b64encode(json.dumps(proposed).encode()).decode()}
        self.entries[entry_uuid] = entry
        return 201, {entry_uuid: entry}, [("Location", f"/api/v1/log/entries/{entry_uuid}")]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rekor():
    log = FakeRekor()
    yield log
    log.close()


@pytest.fixture
def publish(starter_catalog, team, member, monkeypatch):
    """Publish a new busybox recipe in this process (its settings are this test's; a worker process
    of the session would not see them), with no message to any broker."""
    monkeypatch.setattr(services, "build_dispatch", lambda build_id: None)

    def published(name: str) -> Build:
        recipe = recipe_save(user=member, team=team, name=name, base=BaseImage.objects.get(slug="busybox"),
                             choices=[(ComponentVersion.objects.get(component__slug="runtime-user"), {"uid": "10001"})])
        build = build_request(user=member, recipe=recipe)
        build_run(build.pk)
        build.refresh_from_db()
        assert build.published_reference, (build.status, build.error_message)
        return build
    return published


def test_with_a_log_set_every_attestation_is_recorded_there_and_a_down_log_loses_nothing(publish, settings, rekor,
                                                                                          client, member):
    settings.TRANSPARENCY_LOG_URL = rekor.url
    build = publish(f"logged-{uuid.uuid4().hex[:6]}")
    rows = list(build.attestations.all())
    assert {r.kind for r in rows} == {"signature", "provenance", "sbom", "verdict"}
    assert {r.tlog_state for r in rows} == {State.PENDING}, "the publication did not wait for the log"

    rekor.close()  # the log is down: rows stay pending, saying why
    assert transparency_upload_pending() == 0
    rows = list(build.attestations.all())
    assert {r.tlog_state for r in rows} == {State.PENDING}
    assert all("did not answer" in r.tlog_error and r.tlog_attempts == 1 for r in rows), [r.tlog_error for r in rows]
    client.force_login(member)
    page = " ".join(client.get(reverse("build-detail", args=[build.pk])).content.decode().split())
    assert "Waiting for the transparency log (4 to send): the log at" in page

    back = FakeRekor()  # back (on another port): everything goes, each entry judged valid by the log
    try:
        settings.TRANSPARENCY_LOG_URL = back.url
        assert transparency_upload_pending() == 4
        assert sorted(p["kind"] for p in back.received) == ["dsse", "dsse", "dsse", "hashedrekord"]
        recorded = {r.kind: r for r in build.attestations.all()}
        assert {r.tlog_state for r in recorded.values()} == {State.RECORDED}
        assert sorted(r.tlog_entry["logIndex"] for r in recorded.values()) == [0, 1, 2, 3]
        assert all(r.tlog_entry["log"] == back.url and r.tlog_entry["uuid"] in back.entries for r in recorded.values())
        # the SBOM's envelope, kept only in the registry, was read from there: the logged payload is the SBOM
        sbom = next(json.loads(p["spec"]["proposedContent"]["envelope"]) for p in back.received
                    if p["kind"] == "dsse" and "cyclonedx" in base64.b64decode(
                        json.loads(p["spec"]["proposedContent"]["envelope"])["payload"]).decode())
        assert json.loads(base64.b64decode(sbom["payload"]))["subject"][0]["digest"]["sha256"] == build.digest[7:]
        assert transparency_upload_pending() == 0, "nothing sent twice"
        client.force_login(member)
        page = " ".join(client.get(reverse("build-detail", args=[build.pk])).content.decode().split())
        assert "In the transparency log: entries 0, 1, 2, 3" in page

        # an answer lost after the log took it: sent again, the log answers 409 and the entry is read back
        row = recorded["verdict"]
        Attestation.objects.filter(pk=row.pk).update(tlog_state=State.PENDING, tlog_entry={})
        assert transparency_upload_pending() == 1
        row.refresh_from_db()
        assert row.tlog_state == State.RECORDED and row.tlog_entry["uuid"] == recorded["verdict"].tlog_entry["uuid"]
    finally:
        back.close()


def test_a_tampered_entry_is_refused_by_the_log_and_not_sent_again(publish, settings, rekor):
    settings.TRANSPARENCY_LOG_URL = rekor.url
    build = publish(f"refused-{uuid.uuid4().hex[:6]}")
    provenance = build.attestations.get(kind="provenance")
    bundle = provenance.document
    forged = {**bundle, "dsseEnvelope": {**bundle["dsseEnvelope"], "payload": base64.b64encode(b'{"changed":1}').decode()}}
    Attestation.objects.filter(pk=provenance.pk).update(document=forged)
    build.attestations.exclude(pk=provenance.pk).update(tlog_state=State.RECORDED)
    assert transparency_upload_pending() == 0
    provenance.refresh_from_db()
    assert provenance.tlog_state == State.REFUSED, "the log verifies the signature: a changed payload is refused"
    assert "refused the entry: HTTP 400 signature does not verify" in provenance.tlog_error
    assert transparency_upload_pending() == 0 and len(rekor.received) == 1, "a refusal is final: not sent again"


def test_without_a_log_nothing_is_sent_and_rows_say_so(publish, settings, rekor):
    settings.TRANSPARENCY_LOG_URL = ""
    build = publish(f"airgapped-{uuid.uuid4().hex[:6]}")
    assert set(build.attestations.values_list("tlog_state", flat=True)) == {State.OFF}
    settings.TRANSPARENCY_LOG_URL = rekor.url  # set later: rows made before it stay unlogged
    assert transparency_upload_pending() == 0 and rekor.received == []
