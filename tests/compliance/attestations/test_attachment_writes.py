"""oci.attachments_write while the gate is still copying the image: the attachments' blobs may go up
meanwhile, but no manifest naming the image is written unless the copy succeeded."""
from concurrent.futures import Future

import pytest

from adapters.registry import RegistryClient, RegistryError
from compliance.attestations import oci
from compliance.attestations.envelopes import dsse_sign, sigstore_bundle, simple_sign, statement
from compliance.attestations.keys import signing_key_generate
from tests.adapters.test_registry_client import fake  # noqa: F401  (the scripted registry fixture)

DIGEST = "sha256:" + "ab" * 32
MANIFEST = (b'{"schemaVersion":2}', "application/vnd.oci.image.manifest.v1+json", DIGEST)


def uploads_accepted(fake):
    """Blob uploads succeed; every manifest is absent on GET and accepted on PUT."""
    upload = "/v2/published/a/blobs/uploads/u1"
    fake.routes = {("POST", "/v2/published/a/blobs/uploads/"): lambda r: (202, {"Location": upload}, b""),
                   ("PUT", upload): lambda r: (201, {}, b"")}
    fake.fallback = lambda r: (201, {}, b"") if r["method"] == "PUT" and "/manifests/" in r["path"] else (
        404, {}, b'{"errors":[]}')


@pytest.fixture(scope="module")
def signed():
    key = signing_key_generate()
    envelope = dsse_sign(statement(name="published/a", digest=DIGEST, predicate_type="https://example/v1",
                                   predicate={"ok": True}), key)
    return (simple_sign(docker_reference="published/a", digest=DIGEST, key=key, optional={}),
            [oci.SignedStatement("https://example/v1", envelope, sigstore_bundle(envelope, key.key_id))])


def test_a_failed_copy_writes_no_attachment_manifest(fake, signed):  # noqa: F811
    uploads_accepted(fake)
    copy_failed = Future()
    copy_failed.set_exception(RegistryError("registry 127.0.0.1:5000 failed on manifest published/a:1"))
    signature, statements = signed
    with pytest.raises(RegistryError, match="failed on manifest published/a:1"):
        oci.attachments_write(RegistryClient(fake.url), "published/a", DIGEST, signature=signature,
                              statements=statements, image_written=copy_failed)
    methods = [(r["method"], r["path"]) for r in fake.requests]
    assert ("PUT", "/v2/published/a/blobs/uploads/u1") in methods  # the blobs went up meanwhile
    assert not [path for method, path in methods if method == "PUT" and "/manifests/" in path]


def test_after_the_copy_the_manifests_name_the_copied_image(fake, signed):  # noqa: F811
    uploads_accepted(fake)
    copied = Future()
    copied.set_result(MANIFEST)
    signature, statements = signed
    oci.attachments_write(RegistryClient(fake.url), "published/a", DIGEST, signature=signature,
                          statements=statements, image_written=copied)
    puts = [r for r in fake.requests if r["method"] == "PUT" and "/manifests/" in r["path"]]
    assert {r["path"].rsplit("/", 1)[1] for r in puts} >= {oci.signature_tag(DIGEST), oci.attestation_tag(DIGEST),
                                                             oci.referrers_tag(DIGEST)}
    artifact = next(r for r in puts if b'"subject"' in r["body"])
    assert f'"digest":"{DIGEST}"'.encode() in artifact["body"]
    assert not [r for r in fake.requests if r["method"] == "GET" and r["path"].endswith(DIGEST)]  # not read again
