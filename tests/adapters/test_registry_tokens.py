"""Registry tokens: the `kid` Distribution looks up, the claims it checks, and what each of the
portal's service identities may do (never more than it asked)."""
import base64
import hashlib

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.registry_tokens import Access, TokenIssuer, libtrust_key_id, scopes_parse, service_grant

PREFIXES = {"quarantine": "quarantine", "published": "published"}


@pytest.fixture(scope="module")
def key_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_the_key_id_is_libtrusts_fingerprint_of_the_public_key(key_pem):
    public = serialization.load_pem_private_key(key_pem, None).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = libtrust_key_id(public)
    groups = kid.split(":")
    assert len(groups) == 12 and all(len(g) == 4 for g in groups)
    assert base64.b32decode("".join(groups) + "=" * 0)[:30] == hashlib.sha256(der).digest()[:30]


def test_a_token_carries_the_claims_the_registry_checks_and_only_granted_actions(key_pem):
    issuer = TokenIssuer(key_pem, issuer="image-portal", service="portal-registry")
    token = issuer.issue(subject="robot+payments+ci", ttl=60, now=1_000_000,
                         access=[Access("repository", "published/payments/app", ("pull",)),
                                 Access("repository", "published/search/app", ())])
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == issuer.key_id
    public = serialization.load_pem_private_key(key_pem, None).public_key()
    claims = jwt.decode(token, public, algorithms=["ES256"], audience="portal-registry", issuer="image-portal",
                        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False})
    assert claims["sub"] == "robot+payments+ci" and claims["exp"] == 1_000_060
    assert claims["access"] == [{"type": "repository", "name": "published/payments/app", "actions": ["pull"]}]


def test_it_refuses_a_key_the_registry_cannot_use():
    rsa_like = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError, match="P-256"):
        TokenIssuer(rsa_like, issuer="i", service="s")


def test_scopes_are_parsed_and_merged_per_repository():
    assert scopes_parse(["repository:a/b:pull", "repository:a/b:push repository:c:pull", "registry:catalog:*"]) == [
        Access("repository", "a/b", ("pull", "push")), Access("repository", "c", ("pull",)),
        Access("registry", "catalog", ("*",))]


@pytest.mark.parametrize("service, name, asked, granted", [
    ("builder", "quarantine/t/app", ("pull", "push", "delete"), ("pull", "push")),
    ("builder", "published/t/app", ("pull", "push"), ("pull",)),  # reads custom bases, never writes published/
    ("builder", "base/debian", ("pull", "push"), ("pull",)),
    ("gate", "published/t/app", ("pull", "push", "delete"), ("pull", "push")),
    ("gate", "quarantine/t/app", ("pull", "push"), ("pull",)),
    ("gate", "base/debian", ("pull",), ()),
    ("scanner", "quarantine/t/app", ("pull", "push"), ("pull",)),
    ("cleanup", "quarantine/t/app", ("delete", "push"), ("delete",)),
    ("cleanup", "published/t/app", ("delete",), ()),  # published images are never deleted
    ("curator", "base/debian", ("pull", "push"), ("pull", "push")),
    ("curator", "published/t/app", ("push",), ()),
    ("curator", "quarantine/t/app", ("push",), ()),
    ("builder", "quarantinex/t/app", ("push",), ()),  # a prefix is a whole path component
])
def test_each_service_identity_gets_only_what_its_job_needs(service, name, asked, granted):
    result = service_grant(service, Access("repository", name, asked), **PREFIXES)
    assert result.actions == granted


def test_an_unknown_identity_or_resource_type_gets_nothing():
    assert service_grant("root", Access("repository", "published/t/a", ("push",)), **PREFIXES).actions == ()
    assert service_grant("gate", Access("registry", "catalog", ("*",)), **PREFIXES).actions == ()
