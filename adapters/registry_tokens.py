"""Registry bearer tokens as Distribution's `auth: token` reads them: scopes, grants, signed JWTs.

The registry trusts one certificate (its `rootcertbundle`) and checks each request's token: signed
by that certificate's key (the JOSE header's `kid` is the key's libtrust fingerprint), issued by
`issuer`, for audience `service`, unexpired, granting the action on the repository. The portal is
the only issuer: its token endpoint (builds/registry_access) grants people and robots, and the
portal's own processes mint tokens for their service identity here:

- builder: push and pull quarantine repositories; pull anything else (bases, custom bases);
- gate: pull quarantine, push and pull published (the only identity that writes published/);
- scanner: pull anything; cleanup: pull and delete quarantine (the portal's own clean-up);
- curator: push and pull the catalog's own repositories (base images: anything outside quarantine/
  and published/), as scripts/make-base-images.sh does.

A token handed to the Docker Engine for a push is a builder token: what a build step could ever
see of it writes nothing but quarantine. Pure: no Django (cryptography and PyJWT only).
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

SERVICES = ("builder", "gate", "scanner", "cleanup", "curator")
ALL_ACTIONS = ("pull", "push", "delete")


@dataclass(frozen=True)
class Access:
    """One entry of a token's `access` claim (and of a request's `scope`)."""

    type: str
    name: str
    actions: tuple[str, ...]

    def claim(self) -> dict:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def scopes_parse(values) -> list[Access]:
    """`repository:team/app:pull,push` items (space-separated or repeated) -> Access, merged per
    repository. Odd items (plugins, `registry:catalog:*`) are kept as they are and granted nothing
    by the portal's rules."""
    merged: dict[tuple[str, str], list[str]] = {}
    for value in ([values] if isinstance(values, str) else values):
        for item in value.split():
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            if not kind or not name:
                continue
            wanted = merged.setdefault((kind, name), [])
            wanted.extend(a for a in actions.split(",") if a and a not in wanted)
    return [Access(kind, name, tuple(actions)) for (kind, name), actions in merged.items()]


def _under(name: str, prefix: str) -> bool:
    return name.startswith(prefix.rstrip("/") + "/")


def service_grant(service: str, requested: Access, *, quarantine: str, published: str) -> Access:
    """What a portal service identity may do of what it asked (never more than it asked)."""
    if requested.type != "repository" or service not in SERVICES:
        return Access(requested.type, requested.name, ())
    name = requested.name
    if service == "builder":
        # Bases, custom bases among them (published images), are read; only quarantine is written.
        allowed = {"pull", "push"} if _under(name, quarantine) else {"pull"}
    elif service == "gate":
        allowed = {"pull", "push"} if _under(name, published) else ({"pull"} if _under(name, quarantine) else set())
    elif service == "scanner":
        allowed = {"pull"}
    elif service == "cleanup":
        allowed = {"pull", "delete"} if _under(name, quarantine) else set()
    else:  # curator
        allowed = set() if _under(name, quarantine) or _under(name, published) else {"pull", "push"}
    return Access(requested.type, name, tuple(a for a in requested.actions if a in allowed))


def libtrust_key_id(public_key) -> str:
    """The `kid` Distribution expects: SHA-256 of the DER public key, cut to 240 bits, base32 in
    twelve groups of four joined by ':' (docker/libtrust's fingerprint)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, 48, 4))


class TokenIssuer:
    """Signs registry tokens with the portal's EC P-256 key (ES256)."""

    def __init__(self, private_key_pem: bytes, *, issuer: str, service: str):
        self._key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(self._key, ec.EllipticCurvePrivateKey) or self._key.curve.name != "secp256r1":
            raise ValueError("the registry token key must be an EC P-256 private key")
        self.issuer, self.service = issuer, service
        self.key_id = libtrust_key_id(self._key.public_key())

    def issue(self, *, subject: str, access: list[Access], ttl: int, now: float | None = None) -> str:
        now = int(now if now is not None else time.time())
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "iat": now, "nbf": now - 5,
                  "exp": now + ttl, "jti": secrets.token_urlsafe(16),
                  "access": [a.claim() for a in access if a.actions]}
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.key_id, "typ": "JWT"})

    def matches_certificate(self, certificate_pem: bytes) -> bool:
        """Whether the certificate the registry trusts holds this key's public half."""
        public = x509.load_pem_x509_certificate(certificate_pem).public_key()
        return libtrust_key_id(public) == self.key_id
