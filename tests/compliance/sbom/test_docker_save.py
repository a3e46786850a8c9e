"""read_docker_save: legacy and OCI `docker save` layouts built in code, and a real `docker save`."""
import gzip
import hashlib
import io
import json
import tarfile

import pytest

from compliance.sbom.docker_save import DockerSaveError
from compliance.sbom.reader import read_docker_save, read_image
from tests.compliance.sbom.sbom_tars import dpkg_stanza, dpkg_status, image_config, layer_tar

BASE = layer_tar(("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'), ("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
                 ("var/lib/dpkg/status", dpkg_status(dpkg_stanza("bash", "5.2"))))
TOP = layer_tar(("var/lib/dpkg/status", dpkg_status(dpkg_stanza("bash", "5.2"), dpkg_stanza("curl", "7.88"))),
                ("app/.env", b"password = hunter2hunter2\n"))


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def archive(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            if isinstance(data, tuple):  # ("sym", target)
                info = tarfile.TarInfo(name)
                info.type, info.linkname = tarfile.SYMTYPE, data[1]
                tar.addfile(info)
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def legacy_save(layers=(BASE, TOP), *, tags=("127.0.0.1:5000/quarantine/shop:build-7",), corrupt=False):
    config = json.dumps(image_config(layers)).encode()
    files = {f"{sha256(config)[7:]}.json": config}
    paths = []
    for number, data in enumerate(layers):
        paths.append(f"{number:064x}/layer.tar")
        files[paths[-1]] = data + (b"\0" * 512 if corrupt else b"")
    files["manifest.json"] = json.dumps([{"Config": f"{sha256(config)[7:]}.json", "RepoTags": list(tags),
                                          "Layers": paths}]).encode()
    return archive(files), config


def oci_save(*, nested_index=False, docker25=False):
    blobs = {}

    def blob(data):
        blobs[f"blobs/sha256/{sha256(data)[7:]}"] = data
        return sha256(data)

    layers = [gzip.compress(BASE, mtime=0), gzip.compress(TOP, mtime=0)]
    config = json.dumps(image_config([BASE, TOP])).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(layer), "size": len(layer)}
                   for layer in layers],
    }).encode()
    top = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": blob(manifest),
           "size": len(manifest), "annotations": {"io.containerd.image.name": "127.0.0.1:5000/quarantine/shop:v1"}}
    if nested_index:
        other = blob(b'{"schemaVersion": 2, "layers": []}')
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"digest": other, "platform": {"os": "linux", "architecture": "arm64"}},
            {**top, "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
        top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": blob(index), "size": len(index),
               "annotations": top["annotations"]}
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": json.dumps({"manifests": [top]}).encode(),
             **blobs}
    if docker25:  # Docker 25+ writes a legacy manifest.json that points into blobs/
        files["manifest.json"] = json.dumps([{"Config": f"blobs/sha256/{sha256(config)[7:]}",
                                              "RepoTags": ["shop:v1"],
                                              "Layers": [f"blobs/sha256/{sha256(layer)[7:]}" for layer in layers]}]).encode()
    return archive(files), sha256(manifest), [sha256(layer) for layer in layers]


def summary(facts):
    return ([(p.name, p.version, p.layer_index) for p in facts.packages], facts.os.get("ID"), facts.passwd,
            [(s.path, s.rule, s.layer_index) for s in facts.secrets], facts.files_by_layer)


EXPECTED = ([("bash", "5.2", 0), ("curl", "7.88", 1)], "debian", {"root": 0},
            [("app/.env", "password-assignment", 1)], [2, 2])


def test_it_reads_the_legacy_layout(tmp_path):
    data, config = legacy_save()
    (tmp_path / "image.tar").write_bytes(data)
    for source in (tmp_path / "image.tar", str(tmp_path / "image.tar"), io.BytesIO(data)):
        facts = read_docker_save(source)
        assert summary(facts) == EXPECTED
        assert (facts.repository, facts.digest) == ("127.0.0.1:5000/quarantine/shop", sha256(config))
        assert facts.layer_digests == [sha256(BASE), sha256(TOP)] == facts.config["rootfs"]["diff_ids"]


def test_it_reads_the_oci_layout_and_picks_linux_amd64_from_an_index():
    for nested in (False, True):
        data, manifest_digest, layer_digests = oci_save(nested_index=nested)
        facts = read_docker_save(io.BytesIO(data))
        assert summary(facts) == EXPECTED
        assert (facts.repository, facts.digest, facts.layer_digests) == (
            "127.0.0.1:5000/quarantine/shop", manifest_digest, layer_digests)


def test_it_reads_the_docker_25_layout_through_its_manifest_json():
    data, _, layer_digests = oci_save(docker25=True)
    facts = read_docker_save(io.BytesIO(data), repository="custom/name")
    assert summary(facts) == EXPECTED
    assert (facts.repository, facts.layer_digests) == ("custom/name", layer_digests)


def test_it_reads_from_a_stream_that_cannot_seek():
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self._data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self._data.read(min(len(buffer), 1000))
            buffer[:len(chunk)] = chunk
            return len(chunk)

    assert summary(read_docker_save(io.BufferedReader(Pipe(legacy_save()[0])))) == EXPECTED


def test_it_follows_a_layer_symlinked_to_another_image_directory():
    data, config = legacy_save(layers=(BASE,), tags=())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    files["shared/layer.tar"] = files.pop(f"{0:064x}/layer.tar")
    files[f"{0:064x}/layer.tar"] = ("sym", "../shared/layer.tar")
    facts = read_docker_save(io.BytesIO(archive(files)))
    assert [p.name for p in facts.packages] == ["bash"] and facts.repository == ""


def test_it_rejects_a_corrupt_layer_and_what_is_not_a_docker_save():
    with pytest.raises(DockerSaveError, match="is corrupt"):
        read_docker_save(io.BytesIO(legacy_save(corrupt=True)[0]))
    with pytest.raises(DockerSaveError, match="neither manifest.json nor index.json"):
        read_docker_save(io.BytesIO(archive({"hello.txt": b"hi"})))
    with pytest.raises(DockerSaveError, match="not a readable tar"):
        read_docker_save(io.BytesIO(b"definitely not a tar" * 100))
    broken = archive({"manifest.json": json.dumps([{"Config": "c.json", "Layers": ["l/layer.tar"]}]).encode(),
                      "c.json": b"{}"})
    with pytest.raises(DockerSaveError, match="l/layer.tar is missing"):
        read_docker_save(io.BytesIO(broken))


# -- a real `docker save` ----------------------------------------------------------------


def docker_engine():
    import docker

    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # any failure to reach the engine means the same thing here
        pytest.fail(f"The Docker Engine is not reachable ({exc.__class__.__name__}): start it with `make services`",
                    pytrace=False)
    return client


@pytest.mark.integration
def test_it_reads_a_real_docker_save_like_the_registry_reader(tmp_path):
    from adapters.engine import EngineError, images_pull
    from adapters.factory import registry_client, registry_host, service_token
    from adapters.registry import RegistryError

    busybox = f"{registry_host()}/base/busybox:1.35"
    engine = docker_engine()
    try:  # the local registry is where `make base-images` put it; it answers the portal's tokens only
        images_pull(references=[busybox], token=lambda _: service_token("scanner", "repository:base/busybox:pull"))
    except EngineError as exc:
        pytest.fail(f"cannot pull {busybox} ({exc}): start it with `make services`", pytrace=False)
    path = tmp_path / "busybox.tar"
    with open(path, "wb") as handle:
        for chunk in engine.api.get_image(busybox):
            handle.write(chunk)
    saved = read_docker_save(path)

    registry = registry_client("scanner")
    try:
        pulled = read_image(registry, "base/busybox", "1.35")
    except RegistryError as exc:
        pytest.fail(f"{exc}: start it with `make services`", pytrace=False)
    finally:
        registry.close()
    assert saved.repository == f"{registry_host()}/base/busybox"
    assert saved.digest == engine.images.get(busybox).id  # a legacy save keeps the image ID, not the manifest
    assert saved.layer_digests == pulled.config["rootfs"]["diff_ids"]
    assert (saved.config, saved.os, saved.packages, saved.passwd, saved.files_by_layer, saved.secrets) == (
        pulled.config, pulled.os, pulled.packages, pulled.passwd, pulled.files_by_layer, pulled.secrets)
    assert "root" in saved.passwd and saved.file_count > 0
