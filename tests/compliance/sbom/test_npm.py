"""npm packages: package.json at the root of node_modules/<name>."""
import json

import pytest

from compliance.sbom.npm import is_npm_package_json, parse_npm_package_json


def manifest(**fields):
    return json.dumps(fields).encode()


@pytest.mark.parametrize("path", [
    "app/node_modules/express/package.json",
    "node_modules/express/package.json",
    "usr/local/lib/node_modules/npm/node_modules/semver/package.json",  # nested node_modules
    "app/node_modules/@types/node/package.json",  # scoped
])
def test_it_recognises_installed_package_manifests(path):
    assert is_npm_package_json(path)


@pytest.mark.parametrize("path", [
    "app/package.json",  # the application itself
    "app/node_modules/resolve/test/fixtures/pkg/package.json",  # a fixture inside a package
    "app/node_modules/.bin/package.json",
    "app/node_modules/.package-lock.json",
    "app/node_modules/@scope/package.json",  # a scope is not a package
    "app/node_modules/express/package.json.bak",
])
def test_it_skips_other_package_json_files(path):
    assert not is_npm_package_json(path)


def test_it_reads_name_and_version():
    package = parse_npm_package_json(manifest(name="@types/node", version="20.10.0", private=False),
                                     path="a/node_modules/@types/node/package.json", layer_index=1)
    assert (package.type, package.name, package.version, package.source_name) == (
        "npm", "@types/node", "20.10.0", "@types/node")
    assert (package.layer_index, package.path) == (1, "a/node_modules/@types/node/package.json")


def test_it_accepts_a_byte_order_mark():
    assert parse_npm_package_json(b"\xef\xbb\xbf" + manifest(name="x", version="1")).name == "x"


@pytest.mark.parametrize("data", [
    b"{not json", b"[]", b"null", manifest(name="x"), manifest(version="1"), manifest(name="x", version=""),
    manifest(name="x", version=1), manifest(name=["x"], version="1"),
])
def test_it_gives_none_for_unusable_manifests(data):
    assert parse_npm_package_json(data) is None
