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


def copied() -> Future:
    done = Future()
    done.set_result(MANIFEST)
    return done


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


def test_a_first_attestation_asks_one_tag_list_and_mounts_the_empty_config_it_put_before(fake, signed, monkeypatch):  # noqa: F811
    """Every publication attests an image for the first time: one tags/list says none of the three
    lists is there (instead of three GETs), and the empty config of the bundle artifacts is mounted
    from where this process put it last (one request instead of HEAD, POST and PUT)."""
    monkeypatch.setattr(oci, "_empty_blob_holders", {})
    uploads_accepted(fake)
    signature, statements = signed
    client = RegistryClient(fake.url)
    oci.attachments_write(client, "published/a", DIGEST, signature=signature, statements=statements, image_written=copied())
    first = [(r["method"], r["path"], r["query"].get("digest")) for r in fake.requests]
    assert ("GET", "/v2/published/a/tags/list", None) in first
    assert not [path for method, path, _ in first if method == "GET" and "/manifests/" in path]
    empty = oci.sha256_digest(oci.EMPTY_BLOB)
    assert ("HEAD", f"/v2/published/a/blobs/{empty}", None) in first  # the first time: asked, then uploaded
    fake.requests.clear()
    mount = "/v2/published/b/blobs/uploads/"
    fake.routes[("POST", mount)] = lambda r: (201, {}, b"") if r["query"].get("mount") == [empty] else (
        202, {"Location": "/v2/published/a/blobs/uploads/u1"}, b"")
    oci.attachments_write(client, "published/b", DIGEST, signature=signature, statements=statements, image_written=copied())
    mounts = [r for r in fake.requests if r["query"].get("mount")]
    assert [(m["query"]["mount"], m["query"]["from"]) for m in mounts] == [([empty], ["published/a"])]
    assert not [r for r in fake.requests if r["method"] == "HEAD"]


def test_lists_already_there_are_read_and_kept(fake, signed, monkeypatch):  # noqa: F811
    """An image attested before (a verdict renewed): the tag list names its lists, which are read and
    extended, not replaced."""
    import json

    uploads_accepted(fake)
    signature, statements = signed
    old_layer = {"mediaType": oci.SIMPLE_SIGNING_LAYER, "digest": "sha256:" + "cd" * 32, "size": 3,
                 "annotations": {oci.SIGNATURE_ANNOTATION: "old"}}
    old_sig = json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "layers": [old_layer],
                          "config": {"mediaType": oci.OCI_CONFIG, "digest": "sha256:" + "ef" * 32, "size": 2}}).encode()
    fake.routes[("GET", "/v2/published/a/tags/list")] = lambda r: (
        200, {"Content-Type": "application/json"}, json.dumps({"tags": [oci.signature_tag(DIGEST)]}).encode())
    fake.routes[("GET", f"/v2/published/a/manifests/{oci.signature_tag(DIGEST)}")] = lambda r: (
        200, {"Content-Type": oci.OCI_MANIFEST, "Docker-Content-Digest": oci.sha256_digest(old_sig)}, old_sig)
    oci.attachments_write(RegistryClient(fake.url), "published/a", DIGEST, signature=signature, statements=statements,
                          image_written=copied())
    put = next(r for r in fake.requests if r["method"] == "PUT" and r["path"].endswith(oci.signature_tag(DIGEST)))
    assert [layer["annotations"][oci.SIGNATURE_ANNOTATION] for layer in json.loads(put["body"])["layers"]] == [
        "old", signature.signature]


def _tag_puts(fake) -> list[str]:
    """The manifests written under a tag (not by digest): what makes an attachment findable."""
    return [r["path"].rsplit("/", 1)[1] for r in fake.requests
            if r["method"] == "PUT" and "/manifests/" in r["path"] and not r["path"].rsplit("/", 1)[1].startswith("sha256:")]


def test_with_the_subject_known_only_the_tags_wait_for_the_copy(fake, signed):  # noqa: F811
    """The gate hands the manifest it read from quarantine: the bundle artifacts (by digest, which
    nothing names) go up while the image is copied; a failed copy leaves no tag naming any of them."""
    uploads_accepted(fake)
    copy_failed = Future()
    copy_failed.set_exception(RegistryError("registry 127.0.0.1:5000 failed on manifest published/a:1"))
    signature, statements = signed
    with pytest.raises(RegistryError, match="failed on manifest published/a:1"):
        oci.attachments_write(RegistryClient(fake.url), "published/a", DIGEST, signature=signature,
                              statements=statements, subject=MANIFEST, image_written=copy_failed)
    artifact = next(r for r in fake.requests if r["method"] == "PUT" and b'"subject"' in r["body"])
    assert f'"digest":"{DIGEST}"'.encode() in artifact["body"] and artifact["path"].rsplit("/", 1)[1].startswith("sha256:")
    assert _tag_puts(fake) == [], "no .sig, .att or referrers tag before the copy succeeded"

    fake.requests.clear()
    oci.attachments_write(RegistryClient(fake.url), "published/a", DIGEST, signature=signature,
                          statements=statements, subject=MANIFEST, image_written=copied())
    assert sorted(_tag_puts(fake)) == sorted([oci.signature_tag(DIGEST), oci.attestation_tag(DIGEST),
                                              oci.referrers_tag(DIGEST)])


def test_a_first_attachment_reads_nothing(fake, signed):  # noqa: F811
    """The caller knows nothing of the image is attached there yet: no tag list, no manifest read."""
    uploads_accepted(fake)
    signature, statements = signed
    oci.attachments_write(RegistryClient(fake.url), "published/a", DIGEST, signature=signature,
                          statements=statements, subject=MANIFEST, image_written=copied(), first=True)
    assert not [r for r in fake.requests if r["method"] == "GET"]
    assert sorted(_tag_puts(fake)) == sorted([oci.signature_tag(DIGEST), oci.attestation_tag(DIGEST),
                                              oci.referrers_tag(DIGEST)])
