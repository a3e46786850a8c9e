"""Layer records: an image read with some of its layers replayed from records (made in another image,
at another position) gives exactly the facts of reading every layer."""
import base64
import io
import itertools
import json
import random
import tarfile
import zlib

import pytest

from adapters.registry import RegistryError
from compliance.sbom import layer_record
from compliance.sbom import secrets as secrets_module
from compliance.sbom.facts import facts_from_layers
from compliance.sbom.layer_record import LayerRecordError, record_bytes, record_load
from compliance.sbom.reader import read_image
from tests.compliance.sbom.sbom_tars import dpkg_stanza, dpkg_status, pom, zip_bytes

RNG = random.Random(11)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
NET_RAW_EP = b"\x01\x00\x00\x02\x00\x20\x00\x00" + b"\x00" * 12  # setcap cap_net_raw+ep


def token(alphabet=ALNUM, length=36):
    return "".join(RNG.choice(alphabet) for _ in range(length))


def github_token():
    return "gh" + "p_" + token()  # assembled at run time: nothing here for a push-protection scanner


def url_password():
    return f"https://shop:{token(length=16)}@db.internal/shop"  # only detect-secrets reports these


def private_key():
    body = base64.encodebytes(RNG.randbytes(300)).decode()
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\n"


def tar(*entries):
    """A layer tar (PAX, as Docker writes them) from (name, payload, options): payload bytes = file,
    None = directory, ("sym", target) / ("hard", target) = links; options: mode, uid, xattr."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, payload, *options in entries:
            options = options[0] if options else {}
            info = tarfile.TarInfo(name)
            info.mode, info.uid = options.get("mode", 0o755 if payload is None else 0o644), options.get("uid", 0)
            if "xattr" in options:
                info.pax_headers = {"SCHILY.xattr.security.capability": options["xattr"].decode("utf-8", "surrogateescape")}
            if payload is None:
                info.type = tarfile.DIRTYPE
            elif isinstance(payload, tuple):
                info.type = tarfile.SYMTYPE if payload[0] == "sym" else tarfile.LNKTYPE
                info.linkname = payload[1]
            else:
                info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload) if isinstance(payload, bytes) else None)
    return buffer.getvalue()


def python_metadata(name, version):
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nA description.\n".encode()


def npm_manifest(name, version):
    return json.dumps({"name": name, "version": version}).encode()


CONFIG = {"config": {"User": "app", "Env": [f"GH={github_token()}", "PATH=/bin"]},
          "history": [{"created_by": f"step {n}"} for n in range(4)]}


def read(layers, *, max_secret_files=20_000, recorded=None, config=CONFIG):
    return facts_from_layers(repository="r", digest="sha256:d", layer_digests=[f"sha256:{n}" for n in range(len(layers))],
                             config=config, layers=[io.BytesIO(t) if isinstance(t, bytes) else t for t in layers],
                             max_secret_files=max_secret_files, recorded=recorded)


def recorded(layers, **options):
    """The records of `layers` read in one image, as stored (bytes)."""
    kept = []
    read(layers, recorded=kept.append, **options)
    assert [record.layer_index for record in kept] == list(range(len(layers))), "every layer was recorded"
    return [record_bytes(record) for record in kept]


def assert_warm_equals_cold(layers, **options):
    """Every choice of layers replayed (records each made ALONE, as the only layer of another image,
    with no layer below and a fresh scan) gives the facts of reading every layer; so do the
    records made while reading this image, which are byte for byte those made alone."""
    cold = read(layers, **options)
    assert read(layers, recorded=lambda record: None, **options) == cold, "recording changes nothing"
    alone = [recorded([layer], **options)[0] for layer in layers]
    assert recorded(layers, **options) == alone, "a record does not depend on its image or position"
    for replayed in itertools.product([False, True], repeat=len(layers)):
        mixed = [record_load(alone[n]) if replay else layer for n, (layer, replay) in enumerate(zip(layers, replayed))]
        assert read(mixed, **options) == cold, f"layers replayed: {replayed}"
    return cold


BASE_STATUS = dpkg_status(dpkg_stanza("bash", "5.2.15-2"), dpkg_stanza("libc6", "2.36-9", source="glibc"))
UPGRADED_STATUS = dpkg_status(dpkg_stanza("bash", "5.2.15-2"), dpkg_stanza("curl", "7.88.1-10"),
                              dpkg_stanza("libc6", "2.36-9+deb12u4", source="glibc"))
EGG = "usr/lib/python3/dist-packages/six-1.16.0.egg-info"


def base_layer():
    return tar(
        ("etc", None), ("etc/app", None, {"mode": 0o777}),  # world-writable under a system path
        ("usr/lib/os-release", b'ID=debian\nVERSION_ID="12"\n'),
        ("etc/os-release", ("hard", "usr/lib/os-release")),  # a hard link to a kept file of its layer
        ("etc/passwd", b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"),
        ("etc/group", b"root:x:0:\napp:x:1000:\n"), ("etc/shadow", b"root:*:19000::::::\napp:!:19000::::::\n"),
        ("var/lib/dpkg/status", BASE_STATUS),
        ("var/lib/dpkg/info/python3-six.list", f"/.\n/{EGG}\n".encode()),
        (EGG, python_metadata("six", "1.16.0")),  # owned by a dpkg package: not reported as PyPI
        ("usr/bin/su", b"\x7fELF", {"mode": 0o4755}), ("usr/bin/su2", ("hard", "usr/bin/su"), {"mode": 0o4755}),
        ("usr/bin/ping", b"\x7fELF", {"xattr": NET_RAW_EP}),
        ("app/config.ini", f"password = {token(length=12)}\n".encode()),  # deleted by a whiteout above
        ("app/keys/id_rsa", private_key().encode()),  # hidden by an opaque directory above
        ("app/urls.txt", f"db = {url_password()}\n".encode()),
        ("opt/lib/a.jar", zip_bytes(pom("org.example", "a", "1.0"))),
        ("usr/lib/node_modules/left-pad/package.json", npm_manifest("left-pad", "1.3.0")),
        ("home/u/.env", f"GH={github_token()}\n".encode()),
        ("dup.txt", f"first {github_token()}\n".encode()), ("dup.txt", f"second {github_token()}\n".encode()),
    )


def middle_layer():
    return tar(
        ("app/.wh.config.ini", b""), ("app/keys/.wh..wh..opq", b""), ("app/keys/new.pem", private_key().encode()),
        ("var/lib/dpkg/status", UPGRADED_STATUS),  # the package database rewritten
        ("etc/passwd", b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\nweb:x:33:33::/:/bin/sh\n"),
        ("etc/app", None, {"mode": 0o755}),  # no longer world-writable
        ("etc/os-release", ("sym", "../usr/lib/os-release")),  # replaces the hard link, points into the base
        ("usr/bin/.wh.ping", b""),
        ("usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA", python_metadata("requests", "2.31.0")),
        ("opt/lib/a.jar", zip_bytes(pom("org.example", "a", "1.1"))),  # a newer copy at the same path
        ("srv/notes.txt", f"see {url_password()}\n".encode()),
    )


def top_layer():
    return tar(
        ("usr/lib/node_modules/.wh.left-pad", b""),
        ("var/lib/dpkg/status.d/extra", b"Package: extra\nVersion: 9\nArchitecture: all\n"),
        ("etc/shadow", b"root:*:19000::::::\napp:$6$salt$hash:19000::::::\nweb:!:19000::::::\n"),
        ("usr/local/bin/tool", b"\x7fELF", {"mode": 0o2755}),
        ("app/run.sh", f"#!/bin/sh\nexport AWS=AK{'IA'}{token('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}\n".encode()),
        ("app/link", ("sym", "/app/urls.txt")),
    )


def test_an_image_replayed_from_any_of_its_layers_records_reads_as_when_every_layer_is_read():
    facts = assert_warm_equals_cold([base_layer(), middle_layer(), top_layer()])
    # The stack exercises what it claims to: deletions of base files by upper layers, the rewritten
    # database and the accounts with their layers, the special files, every kind of package.
    assert {(p.type, p.name, p.version, p.layer_index) for p in facts.packages} == {
        ("deb", "bash", "5.2.15-2", 0), ("deb", "curl", "7.88.1-10", 1), ("deb", "libc6", "2.36-9+deb12u4", 1),
        ("deb", "extra", "9", 2), ("pypi", "requests", "2.31.0", 1), ("maven", "org.example:a", "1.1", 1)}
    assert facts.os["ID"] == "debian"
    assert {(a.name, a.layer_index, a.password) for a in facts.privileges.accounts} == {
        ("root", 0, "locked"), ("app", 0, "set"), ("web", 1, "locked")}
    assert {(f.path, f.layer_index, f.type) for f in facts.privileges.special_files} == {
        ("usr/bin/su", 0, "file"), ("usr/bin/su2", 0, "hardlink"), ("usr/local/bin/tool", 2, "file")}
    secrets = {(s.path, s.layer_index, s.rule, s.deleted_in_later_layer) for s in facts.secrets if s.where == "file"}
    assert {("app/config.ini", 0, "password-assignment", True), ("app/keys/id_rsa", 0, "private-key", True),
            ("app/urls.txt", 0, "basic-auth-credentials", False), ("dup.txt", 0, "github-token", False),
            ("srv/notes.txt", 1, "basic-auth-credentials", False), ("app/run.sh", 2, "aws-access-key-id", False)} <= secrets
    assert not facts.secrets_truncated and facts.files_by_layer == [9, 6, 4]


@pytest.mark.parametrize("max_secret_files", [1, 3, 6, 9, 12])
def test_the_secret_file_limit_is_hit_where_a_cold_read_hits_it_whatever_layers_are_replayed(max_secret_files):
    facts = assert_warm_equals_cold([base_layer(), middle_layer(), top_layer()], max_secret_files=max_secret_files)
    assert facts.secrets_truncated


def test_the_finding_limit_is_hit_where_a_cold_read_hits_it_whatever_layers_are_replayed(monkeypatch):
    four = "\n".join(github_token() for _ in range(4)).encode()
    one, nothing = four[:41], b"nothing to see\n"
    passwords = [f"password = {token(length=12)}\n".encode() for _ in range(5)]
    passwords = [b"".join(passwords[:4]), passwords[4]]
    three_layers = [tar(("a/one", four), ("a/one", four)), tar(("b/one", four)), tar(("a/one", four), ("c/one", one))]
    cases = [  # 13 distinct findings: a/one twice in a layer is the same 4
        (three_layers, 2, 2, True), (three_layers, 12, 12, True), (three_layers, 13, 13, False),
        # The limit reached inside a layer by its distinct findings: a repeat of one is no new finding...
        ([tar(("x", nothing)), tar(("a/one", four), ("a/one", four))], 4, 4, False),
        # ... and a new one after them truncates the scan (passwords: no detect-secrets detector
        # queues them, so only our rules could tell).
        ([tar(("a/one.ini", passwords[0]), ("c/one.ini", passwords[1])), tar(("x", nothing))], 4, 4, True),
    ]
    for layers, limit, kept, truncated in cases:
        monkeypatch.setattr(secrets_module, "MAX_FINDINGS", limit)
        facts = assert_warm_equals_cold(layers, config={})
        assert (len(facts.secrets), facts.secrets_truncated) == (kept, truncated), (limit, kept)


def test_detect_secrets_reads_what_fits_the_queue_of_the_image_not_of_the_record(monkeypatch):
    def text(size):
        line = f"db = {url_password()}\n"
        return (line + "x" * (size - len(line) - 1) + "\n").encode()

    monkeypatch.setattr(secrets_module, "MAX_QUEUED_BYTES", 650)
    below = tar(("p.txt", text(300)))
    # Alone, a and c fit the queue and b does not; above 300 queued bytes, only b fits.
    shared = tar(("a.txt", text(400)), ("b.txt", text(300)), ("c.txt", text(200)))
    alone = assert_warm_equals_cold([shared])
    assert {s.path for s in alone.secrets if s.where == "file"} == {"a.txt", "c.txt"}
    stacked = assert_warm_equals_cold([below, shared])
    assert {s.path for s in stacked.secrets if s.where == "file"} == {"p.txt", "b.txt"}
    assert stacked.secrets_truncated


def test_a_record_made_in_one_image_serves_another_at_another_position():
    shared = middle_layer()
    [_, record] = recorded([base_layer(), shared])
    other = [tar(("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")), top_layer(), shared]
    assert read([*other[:2], record_load(record)]) == read(other)


def test_a_record_keeps_no_password_hash():
    [stored] = recorded([tar(("etc/shadow", b"root:$6$salt$Qm9vZ2FsbG9vZ2FsbG9v:19000::::::\n"),
                             ("etc/passwd", b"old:$1$ab$T2xkIHN0eWxlIGhhc2g:0:0::/:/bin/sh\n"))])
    text = zlib.decompress(stored).decode()
    assert "Qm9v" not in text and "T2xk" not in text and base64.b64encode(b"root:set:").decode() in text


def test_a_record_keeps_no_secret():
    key, gh, url = private_key(), github_token(), url_password()
    [stored] = recorded([tar(("k.pem", key.encode()), ("app/.env", f"GH={gh}\n".encode()),
                             ("app/settings.ini", f"url = {url}\n".encode()))])
    text = zlib.decompress(stored).decode()
    for secret in (gh, url.split("@")[0].split(":")[-1], "".join(key.splitlines()[1:-1])):
        for start in range(0, len(secret) - 8, 4):
            assert secret[start:start + 8] not in text


def test_a_layer_too_big_to_record_is_read_and_not_recorded(monkeypatch):
    monkeypatch.setattr(layer_record, "MAX_RECORD_READ_BYTES", 100)
    layers = [base_layer(), tar(("small", b"x"))]
    kept = []
    facts = read(layers, recorded=kept.append)
    assert [record.layer_index for record in kept] == [1]
    assert facts == read(layers)


def test_a_record_bigger_than_the_stored_limit_is_not_stored(monkeypatch):
    kept = []
    read([base_layer()], recorded=kept.append)
    monkeypatch.setattr(layer_record, "MAX_RECORD_BYTES", 100)
    assert record_bytes(kept[0]) is None


def test_an_unreadable_record_says_so():
    for stored in (b"not zlib", zlib.compress(b"{not json"), zlib.compress(json.dumps({"format": 999}).encode())):
        with pytest.raises(LayerRecordError):
            record_load(stored)


def test_the_recipe_changes_with_the_limits_a_caller_passes():
    assert layer_record.layer_recipe(max_secret_files=5) != layer_record.layer_recipe(max_secret_files=6)
    assert len(layer_record.layer_recipe(max_secret_files=5)) == 64


class CorruptingRegistry:
    """The reading half of a registry client whose second layer fails its digest check once read
    (a real registry checks digests on upload: it cannot be made to serve a corrupt blob)."""

    def __init__(self, layers):
        self.layers = {f"sha256:{n}": layer for n, layer in enumerate(layers)}

    def manifest(self, repository, reference):
        return {"config": {"digest": "sha256:c"}, "layers": [{"digest": d} for d in self.layers]}, "sha256:m"

    def blob(self, repository, digest):
        return json.dumps(CONFIG).encode()

    def open_blob(self, repository, digest):
        registry = self

        class Stream(io.BytesIO):
            def verify(self):
                self.read()
                if digest == "sha256:1":
                    raise RegistryError(f"blob {digest} is corrupt")

            def __enter__(self):
                return self

        return Stream(registry.layers[digest])


class MemoryRecords:
    def __init__(self):
        self.stored = {}

    def get(self, digests, recipe):
        return {digest: self.stored[digest, recipe] for digest in digests if (digest, recipe) in self.stored}

    def put(self, digest, recipe, record):
        self.stored[digest, recipe] = record


def test_a_layer_is_recorded_only_once_its_digest_checked_out():
    records = MemoryRecords()
    with pytest.raises(RegistryError):
        read_image(CorruptingRegistry([base_layer(), middle_layer(), top_layer()]), "r", "v1", records=records)
    assert [digest for digest, _ in records.stored] == ["sha256:0"]
