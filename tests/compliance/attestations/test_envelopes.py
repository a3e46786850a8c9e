"""Signatures and envelopes refuse anything changed, anything signed by another key and anything
about another image; what they produce is what the in-toto and sigstore formats require."""
import base64
import copy
import json
from datetime import datetime, timedelta, timezone

import pytest
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope

from compliance.attestations.envelopes import (
    BUNDLE_MEDIA_TYPE,
    IN_TOTO_PAYLOAD,
    EnvelopeInvalid,
    bundle_envelope,
    dsse_sign,
    dsse_verify,
    sigstore_bundle,
    simple_sign,
    simple_verify,
    statement,
    subject_digests,
)
from compliance.attestations.keys import (
    InvalidKey,
    key_id,
    public_key_load,
    signing_key_generate,
    signing_key_load,
    trusted_keys_parse,
)

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
NAME = "127.0.0.1:5000/published/payments/orders-api"


@pytest.fixture(scope="module")
def key():
    return signing_key_generate()


@pytest.fixture(scope="module")
def foreign_key():
    return signing_key_generate()


def _statement(digest=DIGEST, predicate=None):
    return statement(name=NAME, digest=digest, predicate_type="https://example.test/p/v1",
                     predicate=predicate or {"compliant": True})


def test_a_statement_is_a_valid_in_toto_v1_statement_about_the_digest():
    document = _statement()
    subject = ResourceDescriptor(name=document["subject"][0]["name"], digest=document["subject"][0]["digest"]).pb
    Statement([subject], document["predicateType"], document["predicate"]).validate()  # raises when malformed
    assert document["_type"] == "https://in-toto.io/Statement/v1"
    assert subject_digests(document) == {DIGEST}


def test_a_signed_envelope_verifies_with_securesystemslib_and_gives_back_the_statement(key):
    envelope = dsse_sign(_statement(), key)
    assert envelope["payloadType"] == IN_TOTO_PAYLOAD
    parsed = Envelope.from_dict(copy.deepcopy(envelope))  # the library's own reading of the DSSE form
    assert parsed.signatures and next(iter(parsed.signatures)) == key.key_id
    before = copy.deepcopy(envelope)
    document, signer = dsse_verify(envelope, [key.public_key])
    assert document == _statement() and signer == key.key_id
    assert envelope == before, "verifying leaves the caller's envelope as it was"


def test_a_changed_payload_is_refused(key):
    envelope = dsse_sign(_statement(), key)
    forged = _statement(predicate={"compliant": True, "note": "edited after signing"})
    tampered = {**envelope, "payload": base64.b64encode(json.dumps(forged).encode()).decode()}
    with pytest.raises(EnvelopeInvalid):
        dsse_verify(tampered, [key.public_key])


def test_a_changed_payload_type_is_refused(key):
    # DSSE signs the type with the payload (PAE): relabelling the same bytes breaks the signature
    envelope = dsse_sign(_statement(), key)
    with pytest.raises(EnvelopeInvalid):
        dsse_verify({**envelope, "payloadType": "application/json"}, [key.public_key])


def test_an_envelope_signed_by_another_key_is_refused(key, foreign_key):
    envelope = dsse_sign(_statement(), foreign_key)
    with pytest.raises(EnvelopeInvalid):
        dsse_verify(envelope, [key.public_key])
    # ...even when the foreign signature claims the trusted key's id
    relabelled = {**envelope, "signatures": [{**envelope["signatures"][0], "keyid": key.key_id}]}
    with pytest.raises(EnvelopeInvalid):
        dsse_verify(relabelled, [key.public_key])


def test_garbage_is_refused_with_a_reason_not_a_crash(key):
    for bad in ({}, {"payload": "%%%", "payloadType": IN_TOTO_PAYLOAD, "signatures": []},
                {"payload": base64.b64encode(b"not json").decode(), "payloadType": IN_TOTO_PAYLOAD,
                 "signatures": [{"keyid": key.key_id, "sig": "AAAA"}]}):
        with pytest.raises(EnvelopeInvalid):
            dsse_verify(bad, [key.public_key])


def test_the_bundle_is_a_sigstore_v03_bundle_holding_the_envelope(key):
    envelope = dsse_sign(_statement(), key)
    bundle = sigstore_bundle(envelope, key.key_id)
    assert bundle["mediaType"] == BUNDLE_MEDIA_TYPE == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle["verificationMaterial"]["publicKey"]["hint"] == key.key_id
    assert bundle_envelope(bundle) == envelope
    with pytest.raises(EnvelopeInvalid):
        bundle_envelope({"mediaType": BUNDLE_MEDIA_TYPE, "messageSignature": {}})


def test_a_simple_signature_is_cosigns_payload_bound_to_the_digest(key, foreign_key):
    signed = simple_sign(docker_reference=NAME, digest=DIGEST, key=key, optional={"build": "7"})
    payload = json.loads(signed.payload)
    assert payload["critical"] == {"identity": {"docker-reference": NAME}, "image": {"docker-manifest-digest": DIGEST},
                                   "type": "cosign container image signature"}
    assert simple_verify(signed.payload, signed.signature, digest=DIGEST, public_keys=[key.public_key]) == key.key_id
    with pytest.raises(EnvelopeInvalid):  # a valid signature, but about another image
        simple_verify(signed.payload, signed.signature, digest=OTHER, public_keys=[key.public_key])
    with pytest.raises(EnvelopeInvalid):
        simple_verify(signed.payload, signed.signature, digest=DIGEST, public_keys=[foreign_key.public_key])
    edited = signed.payload.replace(b'"7"', b'"8"')
    with pytest.raises(EnvelopeInvalid):
        simple_verify(edited, signed.signature, digest=DIGEST, public_keys=[key.public_key])


def test_the_key_id_is_the_sha256_of_the_public_key_and_survives_a_pem_round_trip(key):
    again = signing_key_load(key.private_pem())
    assert again.key_id == key.key_id == key_id(public_key_load(key.public_pem))
    assert len(key.key_id) == 64 and int(key.key_id, 16) >= 0


def test_keys_that_are_not_p256_or_not_keys_are_refused():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    p384_pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for pem in (rsa_pem, p384_pem, b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", b""):
        with pytest.raises(InvalidKey):
            signing_key_load(pem)


def test_a_verifier_reads_trusted_keys_from_the_pem_list_or_the_json_document(key, foreign_key):
    pem_list = key.public_pem + "\n" + foreign_key.public_pem
    assert set(trusted_keys_parse(pem_list)) == {key.key_id, foreign_key.key_id}
    now = datetime.now(timezone.utc)
    document = {"keys": [{"keyid": key.key_id, "publicKey": key.public_pem, "status": "active"},
                         {"keyid": foreign_key.key_id, "publicKey": foreign_key.public_pem, "status": "retired",
                          "verifyUntil": (now - timedelta(days=1)).isoformat()}]}
    assert set(trusted_keys_parse(json.dumps(document))) == {key.key_id}, "a retired key is no longer trusted"
    for bad in ("", "{}", "{not json", "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"):
        with pytest.raises(InvalidKey):
            trusted_keys_parse(bad)
