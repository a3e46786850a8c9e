"""What gets signed, and the signed forms verifiers read. Pure: no Django, no registry.

- an in-toto Statement v1 naming the image by digest, with a predicate;
- the DSSE envelope around it (signed over DSSE's pre-authentication encoding by securesystemslib);
- the sigstore bundle v0.3 holding that envelope, naming the key by its id (no certificate, no
  transparency log: verification needs only the portal's public key, offline);
- cosign's simple-signing payload and its signature, the `sha256-<hex>.sig` form older cosign,
  Kyverno and policy-controller versions read.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass

from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from compliance.attestations.keys import KeyPair, b64, key_id, signature_valid, unb64

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIMPLE_SIGNING_TYPE = "cosign container image signature"


class EnvelopeInvalid(ValueError):
    """A signed document that does not verify; the message says which check refused it."""


def statement(*, name: str, digest: str, predicate_type: str, predicate: dict) -> dict:
    """An in-toto Statement v1 whose single subject is the image `name` at `digest` (sha256:<hex>)."""
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64:
        raise ValueError(f"an image digest must be sha256:<64 hex>, not {digest!r}")
    return {"_type": STATEMENT_TYPE, "subject": [{"name": name, "digest": {"sha256": hexdigest}}],
            "predicateType": predicate_type, "predicate": predicate}


def canonical(document: dict) -> bytes:
    """The bytes that are signed: compact, sorted keys, so the same document signs to the same payload."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sslib_key(public_key) -> SSlibKey:
    return SSlibKey.from_crypto(public_key, keyid=key_id(public_key), scheme="ecdsa-sha2-nistp256")


def dsse_sign(document: dict, key: KeyPair) -> dict:
    """A DSSE envelope (payloadType in-toto) of `document`, signed with `key`; as JSON-ready dict."""
    envelope = Envelope(payload=canonical(document), payload_type=IN_TOTO_PAYLOAD, signatures={})
    envelope.sign(CryptoSigner(key.private_key, _sslib_key(key.public_key)))
    return envelope.to_dict()


def dsse_verify(envelope: dict, public_keys: list) -> tuple[dict, str]:
    """The statement inside `envelope` and the id of the key that signed it, if one of
    `public_keys` did; EnvelopeInvalid otherwise."""
    try:
        parsed = Envelope.from_dict(copy.deepcopy(envelope))  # from_dict pops the signatures' fields
    except (KeyError, TypeError, ValueError) as error:
        raise EnvelopeInvalid(f"not a DSSE envelope ({error})") from None
    if parsed.payload_type != IN_TOTO_PAYLOAD:
        raise EnvelopeInvalid(f"the envelope's payload type is {parsed.payload_type!r}, not in-toto")
    keys = [_sslib_key(k) for k in public_keys]
    try:
        accepted = parsed.verify(keys, 1)
    except VerificationError:
        raise EnvelopeInvalid("no signature by a trusted portal key (the payload was changed, or another key signed it)") from None
    try:
        document = json.loads(parsed.payload)
    except ValueError:
        raise EnvelopeInvalid("the signed payload is not JSON") from None
    if not isinstance(document, dict) or document.get("_type") != STATEMENT_TYPE:
        raise EnvelopeInvalid("the signed payload is not an in-toto Statement v1")
    return document, next(iter(accepted))


def sigstore_bundle(envelope: dict, signer_key_id: str) -> dict:
    """A sigstore bundle v0.3 around a DSSE envelope, verified with the public key named by `hint`."""
    signatures = [{"sig": s["sig"], "keyid": s.get("keyid", "")} for s in envelope["signatures"]]
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": signer_key_id}, "tlogEntries": []},
        "dsseEnvelope": {"payload": envelope["payload"], "payloadType": envelope["payloadType"], "signatures": signatures},
    }


def bundle_envelope(bundle: dict) -> dict:
    """The DSSE envelope of a sigstore bundle, as `dsse_verify` takes it."""
    if not isinstance(bundle, dict) or bundle.get("mediaType") != BUNDLE_MEDIA_TYPE or "dsseEnvelope" not in bundle:
        raise EnvelopeInvalid("not a sigstore v0.3 bundle with a DSSE envelope")
    return bundle["dsseEnvelope"]


def subject_digests(document: dict) -> set[str]:
    return {f"sha256:{s.get('digest', {}).get('sha256', '')}" for s in document.get("subject") or [] if isinstance(s, dict)}


@dataclass(frozen=True)
class SimpleSignature:
    payload: bytes
    signature: str  # base64 DER, as cosign's `dev.cosignproject.cosign/signature` annotation holds it


def simple_sign(*, docker_reference: str, digest: str, key: KeyPair, optional: dict | None = None) -> SimpleSignature:
    """cosign's simple-signing payload for the image at `digest`, and its signature."""
    payload = canonical({"critical": {"identity": {"docker-reference": docker_reference},
                                      "image": {"docker-manifest-digest": digest}, "type": SIMPLE_SIGNING_TYPE},
                         "optional": optional or None})
    return SimpleSignature(payload, b64(key.sign(payload)))


def simple_verify(payload: bytes, signature: str, *, digest: str, public_keys: list) -> str:
    """The id of the trusted key that signed a simple-signing payload naming `digest`; EnvelopeInvalid otherwise."""
    raw = unb64(signature, "the signature")
    signer = next((k for k in public_keys if signature_valid(k, raw, payload)), None)
    if signer is None:
        raise EnvelopeInvalid("the image signature was not made by a trusted portal key")
    try:
        critical = json.loads(payload)["critical"]
    except (ValueError, KeyError, TypeError):
        raise EnvelopeInvalid("the signed payload is not a simple-signing document") from None
    if critical.get("type") != SIMPLE_SIGNING_TYPE:
        raise EnvelopeInvalid(f"the signed payload's type is {critical.get('type')!r}")
    if critical.get("image", {}).get("docker-manifest-digest") != digest:
        raise EnvelopeInvalid(f"the signature is for {critical.get('image', {}).get('docker-manifest-digest')}, not {digest}")
    return key_id(signer)
