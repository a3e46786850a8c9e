"""Registry garbage collection on a registry of our own: quarantine's unreferenced manifests and
abandoned uploads go; tagged and recorded manifests stay; published/ is never touched."""
import io
import json
import time

import pytest
import requests
from django.core.management import call_command

from adapters.factory import service_token
from adapters.registry import MANIFEST_V2, RegistryClient, RegistryError, sha256_digest
from builds.runner.registry_gc import registry_gc
from tests.integration.private_services import PrivateRegistry, private_workdir
from tests.integration.test_registry_access import token_key  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
QUARANTINE, PUBLISHED = "quarantine/payments/app", "published/payments/app"


@pytest.fixture
def registry(services, settings):
    private = PrivateRegistry(private_workdir("registry-gc")).start()
    settings.REGISTRY_URL = private.url
    settings.REGISTRY_STORAGE_DIR = str(private.workdir / "data")
    try:
        yield private
    finally:
        private.remove()


def put_image(client, repository, marker, tag=None):
    """A tiny image manifest (one config, one layer), under `tag` or by digest alone; its digest."""
    config = client.upload_blob(repository, json.dumps({"marker": marker}).encode())
    layer = client.upload_blob(repository, f"layer {marker}".encode())
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_V2,
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 1},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer, "size": 1}]}
    body = json.dumps(manifest).encode()
    return client.put_manifest(repository, tag or sha256_digest(body), body, MANIFEST_V2)


def upload_abandoned(registry, repository):
    response = requests.post(f"{registry.url}/v2/{repository}/blobs/uploads/", timeout=5)
    assert response.status_code == 202
    return response.headers["Docker-Upload-UUID"]


def manifest_there(client, repository, digest):
    return client.manifest_bytes_or_none(repository, digest) is not None


def uploads_dir(registry, repository):
    return registry.workdir / "data/docker/registry/v2/repositories" / repository / "_uploads"


def test_it_removes_what_quarantine_abandoned_and_never_touches_published(registry, settings, build):
    client = RegistryClient(registry.url)
    tagged = put_image(client, QUARANTINE, "tagged", tag="build-1")
    recorded = put_image(client, QUARANTINE, "recorded")
    build.quarantine_repository, build.digest = QUARANTINE, recorded
    build.save(update_fields=["quarantine_repository", "digest"])
    unreferenced = put_image(client, QUARANTINE, "unreferenced")
    published_untagged = put_image(client, PUBLISHED, "published-untagged")
    quarantine_upload = upload_abandoned(registry, QUARANTINE)
    published_upload = upload_abandoned(registry, PUBLISHED)
    assert (uploads_dir(registry, QUARANTINE) / quarantine_upload).is_dir()
    settings.REGISTRY_GC_GRACE_SECONDS = settings.REGISTRY_UPLOAD_MAX_AGE_SECONDS = 60

    fresh = registry_gc()  # nothing is old enough yet
    assert fresh.manifests_deleted == [] and fresh.uploads_removed == []

    later = time.time() + 120
    dry = registry_gc(dry_run=True, now=later)
    assert dry.manifests_deleted == [f"{QUARANTINE}@{unreferenced}"]
    assert dry.uploads_removed == [f"{QUARANTINE}/_uploads/{quarantine_upload}"]
    assert manifest_there(client, QUARANTINE, unreferenced), "a dry run deletes nothing"

    report = registry_gc(now=later)

    assert report.errors == []
    assert report.manifests_deleted == [f"{QUARANTINE}@{unreferenced}"]
    assert not manifest_there(client, QUARANTINE, unreferenced)
    assert manifest_there(client, QUARANTINE, tagged) and manifest_there(client, QUARANTINE, recorded)
    assert not (uploads_dir(registry, QUARANTINE) / quarantine_upload).exists()
    assert manifest_there(client, PUBLISHED, published_untagged), "published/ is never collected"
    assert (uploads_dir(registry, PUBLISHED) / published_upload).is_dir()


def test_the_command_says_when_it_cannot_see_the_registry_storage(settings, db):
    settings.REGISTRY_STORAGE_DIR = "/nonexistent/registry"
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="REGISTRY_STORAGE_DIR"):
        call_command("registry_gc", "--dry-run", stdout=io.StringIO())


def test_beat_runs_the_collection(settings):
    assert settings.CELERY_BEAT_SCHEDULE["registry-gc"]["task"] == "builds.tasks.registry_gc"



@pytest.fixture
def token_registry(services, settings, token_key):  # noqa: F811
    """A registry of our own that answers only the portal's tokens (a key made for this test)."""
    private = PrivateRegistry(private_workdir("registry-gc-auth"), token_auth={
        "realm": "http://127.0.0.1:9/never-asked", "service": settings.REGISTRY_TOKEN_SERVICE,
        "issuer": settings.REGISTRY_TOKEN_ISSUER, "rootcertbundle": str(token_key)}).start()
    settings.REGISTRY_URL = private.url
    settings.REGISTRY_STORAGE_DIR = str(private.workdir / "data")
    try:
        yield private
    finally:
        private.remove()


def as_service(registry, identity):
    return RegistryClient(registry.url, token_source=lambda scope: service_token(identity, scope))


def test_the_cleanup_identity_deletes_in_quarantine_and_is_refused_in_published(token_registry, settings):
    unreferenced = put_image(as_service(token_registry, "builder"), QUARANTINE, "unreferenced")
    published = put_image(as_service(token_registry, "gate"), PUBLISHED, "published-untagged")
    cleanup = as_service(token_registry, "cleanup")
    with pytest.raises(RegistryError, match="denied"):
        cleanup.manifest_delete(PUBLISHED, published)  # even a bug could not delete there

    report = registry_gc(now=time.time() + 2 * settings.REGISTRY_GC_GRACE_SECONDS)

    assert report.errors == [] and report.manifests_deleted == [f"{QUARANTINE}@{unreferenced}"]
    reader = as_service(token_registry, "scanner")
    assert not manifest_there(reader, QUARANTINE, unreferenced)
    assert manifest_there(reader, PUBLISHED, published)
