"""ImageFacts as stored JSON: rows written before and after this version both load."""
import json

from compliance.sbom.models import Account, GroupEntry, ImageFacts, Package, Privileges, SecretFinding, SpecialFile

# What the previous version stored for an image (no path, purl, secrets or file counts).
STORED_BEFORE = {
    "repository": "quarantine/app", "digest": "sha256:m", "layer_digests": ["sha256:l0"],
    "config": {"config": {"User": "app"}}, "os": {"ID": "debian"}, "passwd": {"root": 0},
    "packages": [{"type": "deb", "name": "bash", "version": "5", "source_name": "bash", "source_version": "5",
                  "architecture": "amd64", "layer_index": 0}],
}


def test_it_reads_facts_stored_before_the_new_fields_existed():
    facts = ImageFacts.from_dict(json.loads(json.dumps(STORED_BEFORE)))
    assert facts.packages == [Package(name="bash", version="5", source_name="bash", source_version="5",
                                      architecture="amd64", layer_index=0)]
    assert (facts.packages[0].path, facts.packages[0].purl) == ("", "")
    assert (facts.secrets, facts.secrets_truncated, facts.files_by_layer, facts.file_count) == ([], False, [], 0)
    assert facts.privileges is None, "a scan that never read accounts and special files must not look clean"


def test_it_round_trips_every_field_through_json():
    original = ImageFacts(
        repository="r", digest="sha256:d", layer_digests=["sha256:a", "sha256:b"], config={"config": {}},
        packages=[Package(type="maven", name="g:a", version="1", source_name="g:a", source_version="1",
                          architecture="", layer_index=1, path="x.jar!/y.jar", purl="pkg:maven/g/a@1")],
        secrets=[SecretFinding(path="app/.env", layer_index=0, rule="github-token", fingerprint="sha256:0123456789ab",
                               line=3, deleted_in_later_layer=True),
                 SecretFinding(path="GH", layer_index=None, rule="github-token", fingerprint="sha256:0123456789ab",
                               line=1, where="env")],
        secrets_truncated=True, files_by_layer=[10, 2],
        privileges=Privileges(
            accounts=[Account(name="root", uid=0, gid=0, password="locked", layer_index=0)],
            groups=[GroupEntry(name="root", gid=0, members=("app", "ops"), layer_index=1)],
            special_files=[SpecialFile(path="bin/busybox", layer_index=1, type="file", mode=0o4755, uid=0, gid=0,
                                       capabilities="cap_net_raw=ep")],
            special_files_truncated=True, shadow_layer_index=0),
    )
    assert ImageFacts.from_dict(json.loads(json.dumps(original.to_dict()))) == original
    assert original.file_count == 12


def test_it_ignores_fields_a_newer_version_may_add():
    data = json.loads(json.dumps(STORED_BEFORE))
    data["packages"][0]["licenses"] = ["GPL-3.0"]
    data["secrets"] = [{"path": "p", "layer_index": 0, "rule": "r", "fingerprint": "f", "line": 1, "severity": "high"}]
    data["something_new"] = 1
    facts = ImageFacts.from_dict(data)
    assert facts.packages[0].name == "bash"
    assert facts.secrets == [SecretFinding(path="p", layer_index=0, rule="r", fingerprint="f", line=1)]
