"""RegistryClient and read_image against the REAL registry (started by `make services`)."""
import gzip
import hashlib
import io
import json
import tarfile
import uuid

import pytest

from adapters.factory import registry_client
from adapters.registry import MANIFEST_LIST, MANIFEST_V2, RegistryError
from compliance.sbom.reader import read_image

pytestmark = pytest.mark.integration


STATUS = """\
Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2

Package: removed-long-ago
Status: deinstall ok config-files
Architecture: amd64
Version: 1
"""


@pytest.fixture(scope="module")
def client():
    """The registry answers the portal's tokens only: these tests write test/* repositories as the
    curator (the identity that writes repositories outside quarantine/ and published/)."""
    registry = registry_client("curator")
    yield registry
    registry.close()


def require_registry(client):
    # Called from each test body, not a fixture, so a missing registry shows as a FAILED
    # test with instructions: an integration run must never pass by skipping.
    try:
        client.ping()
    except RegistryError as exc:
        pytest.fail(f"{exc}: start it with `make services`", pytrace=False)


def tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def push_image(client, repository, tag):
    """Two layers: the system files, then one deleting a distroless-style package file."""
    base = tar_bytes({
        "./var/lib/dpkg/status": STATUS.encode(),
        "./var/lib/dpkg/status.d/extra": b"Package: extra\nVersion: 9\nArchitecture: all\n",
        "./usr/lib/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
                                b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
        "./etc/passwd": b"root:x:0:0:root:/root:/bin/bash\napp:x:10001:10001::/app:/bin/sh\n",
    })
    top = tar_bytes({"var/lib/dpkg/status.d/.wh.extra": b"", "app/run.sh": b"#!/bin/sh\n"})
    layers = [gzip.compress(base), gzip.compress(top)]
    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in (base, top)]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"User": "app", "Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()
    manifest = {
        "schemaVersion": 2, "mediaType": MANIFEST_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(config), "digest": client.upload_blob(repository, config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer), "digest": client.upload_blob(repository, layer)} for layer in layers],
    }
    return client.put_manifest(repository, tag, manifest, MANIFEST_V2), manifest


def test_it_reads_back_an_image_it_pushed_and_copies_it_unchanged(client):
    require_registry(client)
    src, dst = f"test/reader-{uuid.uuid4().hex[:12]}", f"test/published-{uuid.uuid4().hex[:12]}"
    digest, manifest = push_image(client, src, "v1")

    facts = read_image(client, src, "v1")
    assert facts.digest == digest
    assert facts.layer_digests == [layer["digest"] for layer in manifest["layers"]]
    assert [(p.name, p.version, p.source_name, p.source_version) for p in facts.packages] == [
        ("bash", "5.2.15-2+b2", "bash", "5.2.15-2+b2"),
        ("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1"),
    ]  # "extra" was whited out by the top layer
    assert {p.layer_index for p in facts.packages} == {0}
    assert facts.os["ID"] == "debian" and facts.os["VERSION_CODENAME"] == "bookworm"
    assert facts.passwd == {"root": 0, "app": 10001}
    assert facts.config["config"]["User"] == "app"

    copied = client.copy_image(src, "v1", dst, "1.0.0")
    assert copied == digest
    assert client.manifest_digest(dst, "1.0.0") == digest
    assert client.tags(dst) == ["1.0.0"]
    assert all(client.blob_exists(dst, layer["digest"]) for layer in manifest["layers"])
    assert read_image(client, dst, digest).packages == facts.packages


def test_it_resolves_a_manifest_list_to_linux_amd64_and_copies_the_whole_list(client):
    require_registry(client)
    src, dst = f"test/reader-{uuid.uuid4().hex[:12]}", f"test/published-{uuid.uuid4().hex[:12]}"
    digest, manifest = push_image(client, src, "v1")
    body = json.dumps(manifest, indent=3).encode()
    index = {"schemaVersion": 2, "mediaType": MANIFEST_LIST, "manifests": [
        {"mediaType": MANIFEST_V2, "size": len(body), "digest": digest,
         "platform": {"architecture": "amd64", "os": "linux"}}]}
    list_digest = client.put_manifest(src, "multi", index, MANIFEST_LIST)

    assert client.manifest(src, "multi") == (manifest, digest)
    assert client.manifest_digest(src, "multi") == list_digest
    assert client.copy_image(src, "multi", dst, "multi") == list_digest
    assert client.manifest_digest(dst, digest) == digest


def test_it_explains_what_is_missing(client):
    require_registry(client)
    with pytest.raises(RegistryError) as error:
        client.manifest("test/never-pushed", "1")
    assert str(error.value) == "manifest test/never-pushed:1 not found"
    assert error.value.status == 404
    assert client.manifest_digest("test/never-pushed", "1") is None
    assert client.tags("test/never-pushed") == []
    assert not client.blob_exists("test/never-pushed", "sha256:" + "0" * 64)


def test_it_refuses_to_write_through_a_path_that_walks_out_of_its_repository(client):
    """The cross-team attack: a copy into `quarantine/<a>/../../published/<b>/<name>` would land
    in team b's published repository (the registry resolves `..`); the client refuses it."""
    require_registry(client)
    suffix = uuid.uuid4().hex[:12]
    victim, attacker = f"test/victim-{suffix}", f"test/attacker-{suffix}"
    victim_digest, _ = push_image(client, victim, "latest")
    tar = tar_bytes({"./etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n"})
    layer = gzip.compress(tar)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}).encode()
    attacker_digest = client.put_manifest(attacker, "1", {
        "schemaVersion": 2, "mediaType": MANIFEST_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                   "digest": client.upload_blob(attacker, config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                    "digest": client.upload_blob(attacker, layer)}]}, MANIFEST_V2)
    for target, tag in [(f"test/attacker-{suffix}/../../{victim}", "latest"), (victim, "../latest"), (f"{victim}/..", "latest")]:
        with pytest.raises(RegistryError, match="refused to address the registry"):
            client.copy_image(attacker, attacker_digest, target, tag)
    assert client.manifest_digest(victim, "latest") == victim_digest
