"""The portal's signing key: ECDSA P-256 with SHA-256, the scheme cosign, sigstore and Kyverno verify.

Pure: the key comes in as PEM and goes out as PEM; where it is kept is compliance/attestations/keyring.py.
The key id is the hex SHA-256 of the public key's DER SubjectPublicKeyInfo, the same value whichever
tool computes it, and the `hint` sigstore bundles name the key by.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ecdsa-p256-sha256"


class InvalidKey(ValueError):
    """A key that is not an ECDSA P-256 key in PEM form; the message says what it is instead."""


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def public_pem(public_key: ec.EllipticCurvePublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class KeyPair:
    """A private key able to sign, with the id verifiers know it by."""

    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    @property
    def public_pem(self) -> str:
        return public_pem(self.public_key)

    def sign(self, data: bytes) -> bytes:
        """An ASN.1 DER ECDSA signature over SHA-256(data)."""
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())


def signing_key_generate() -> KeyPair:
    return KeyPair(ec.generate_private_key(ec.SECP256R1()))


def signing_key_load(pem: bytes) -> KeyPair:
    try:
        private = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise InvalidKey(f"not an unencrypted PEM private key ({error})") from None
    if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(private.curve, ec.SECP256R1):
        raise InvalidKey(f"the signing key must be ECDSA P-256, not {type(private).__name__}")
    return KeyPair(private)


def public_key_load(pem: str | bytes) -> ec.EllipticCurvePublicKey:
    try:
        public = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError) as error:
        raise InvalidKey(f"not a PEM public key ({error})") from None
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, ec.SECP256R1):
        raise InvalidKey(f"a verification key must be ECDSA P-256, not {type(public).__name__}")
    return public


def signature_valid(public_key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise ValueError(f"{what} is not valid base64") from None


def trusted_keys_parse(text: str) -> dict:
    """{key id: public key} from a file a verifier keeps: the portal's signing-keys.pem (PEM blocks one
    after another) or its signing-keys.json (the keys whose status is active or retiring)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
            pems = [k["publicKey"] for k in document["keys"] if k.get("status") in ("active", "retiring")]
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidKey(f"not the portal's signing-keys.json ({error})") from None
    else:
        marker = "-----END PUBLIC KEY-----"
        pems = [block + marker for block in stripped.split(marker) if block.strip()]
    keys = {}
    for pem in pems:
        public = public_key_load(pem.strip())
        keys[key_id(public)] = public
    if not keys:
        raise InvalidKey("no public key in the file")
    return keys
