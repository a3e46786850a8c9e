"""What the portal signs, checked by verifiers that are not our code: sigstore's JavaScript verifier
(@sigstore/verify, on the bundles) and securesystemslib's DSSE implementation (on the envelopes).
Each accepts the genuine article and refuses a changed payload, a foreign key and another digest."""
import base64
import json

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from compliance.attestations.envelopes import dsse_sign, sigstore_bundle, statement
from compliance.attestations.keys import signing_key_generate
from compliance.attestations.predicates import VERDICT_PREDICATE_TYPE
from tests.conftest import sigstore_verify

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def portal_key():
    return signing_key_generate()


def _envelope(key, digest=DIGEST, predicate=None):
    return dsse_sign(statement(name="127.0.0.1:5000/published/payments/api", digest=digest,
                               predicate_type=VERDICT_PREDICATE_TYPE, predicate=predicate or {"compliant": True}), key)


def _edited(envelope):
    document = json.loads(base64.b64decode(envelope["payload"]))
    document["predicate"]["compliant"] = False
    return {**envelope, "payload": base64.b64encode(json.dumps(document).encode()).decode()}


def test_sigstores_verifier_accepts_the_bundle_and_refuses_each_tampering(portal_key):
    stranger = signing_key_generate()
    trusted = {portal_key.key_id: portal_key.public_pem}
    genuine = sigstore_bundle(_envelope(portal_key), portal_key.key_id)
    cases = {
        "genuine": genuine,
        "changed payload": sigstore_bundle(_edited(_envelope(portal_key)), portal_key.key_id),
        "foreign key, claiming to be the portal's": sigstore_bundle(_envelope(stranger), portal_key.key_id),
        "foreign key, naming itself": sigstore_bundle(_envelope(stranger), stranger.key_id),
        "about another image": sigstore_bundle(_envelope(portal_key, digest="sha256:" + "cd" * 32), portal_key.key_id),
    }
    results = dict(zip(cases, sigstore_verify(None, list(cases.values()), trusted, digest=DIGEST)))
    assert results.pop("genuine") == {"ok": True, "error": "", "predicateType": VERDICT_PREDICATE_TYPE}
    assert {name: r["ok"] for name, r in results.items()} == dict.fromkeys(results, False), results
    assert results["about another image"]["error"] == "the statement is about another image"
    assert "no trusted key" in results["foreign key, naming itself"]["error"]


def test_securesystemslib_accepts_the_envelope_and_refuses_each_tampering(portal_key):
    stranger = signing_key_generate()
    key = SSlibKey(portal_key.key_id, "ecdsa", "ecdsa-sha2-nistp256", {"public": portal_key.public_pem})
    genuine = Envelope.from_dict(_envelope(portal_key))
    assert portal_key.key_id in genuine.verify([key], 1)
    relabelled = _envelope(stranger)
    relabelled["signatures"][0]["keyid"] = portal_key.key_id
    for forged in (_edited(_envelope(portal_key)), _envelope(stranger), relabelled):
        with pytest.raises(VerificationError):
            Envelope.from_dict(forged).verify([key], 1)
