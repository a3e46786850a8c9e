"""Layer records in the database against the REAL registry: a layer scanned before is replayed,
never downloaded again, and the facts are those of reading every layer."""
import datetime
import gzip
import json
import uuid

import pytest
from django.utils import timezone

from adapters.factory import registry_client
from adapters.registry import MANIFEST_V2, RegistryError
from builds.models import Build, Recipe
from catalog.models import BaseImage
from compliance import scans
from compliance.models import ScannedLayer
from compliance.sbom.layer_record import layer_recipe
from compliance.sbom.reader import read_image
from compliance.sbom.secrets import MAX_FILES
from compliance.scanned_layers import ScannedLayerStore, scanned_layers_prune
from tests.compliance.sbom.test_layer_record import base_layer, middle_layer, tar, top_layer
from tests.factories import TeamFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def client():
    """The curator writes test/* repositories; a fresh client per test, so its requests can be counted."""
    registry = registry_client("curator")
    try:
        registry.ping()
    except RegistryError as exc:
        pytest.fail(f"{exc}: start it with `make services`", pytrace=False)
    yield registry
    registry.close()


def blob_requests(registry):
    """The blobs `registry` downloads from now on (digests, in order)."""
    from urllib.parse import urlsplit

    fetched, send = [], registry._send

    def recording(method, url, what, headers, kwargs):
        response = send(method, url, what, headers, kwargs)
        path = urlsplit(url).path
        if method == "GET" and "/blobs/" in path and response.status_code == 200:
            fetched.append(path.rsplit("/", 1)[-1])
        return response
    registry._send = recording
    return fetched


def push(registry, repository, layers):
    """An image of these layer tars (gzipped); (manifest digest, config digest, layer digests)."""
    blobs = [gzip.compress(layer, mtime=0) for layer in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"User": "app"},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    config_digest = registry.upload_blob(repository, config)
    digests = [registry.upload_blob(repository, blob) for blob in blobs]
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_V2,
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                           "digest": config_digest},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(blob),
                            "digest": digest} for blob, digest in zip(blobs, digests)]}
    return registry.put_manifest(repository, "v1", manifest, MANIFEST_V2), config_digest, digests


@pytest.fixture
def images(client):
    """A base of two layers, and an image built on it with one layer of its own."""
    name = uuid.uuid4().hex[:12]
    base, app = base_layer(), middle_layer()
    _, _, base_digests = push(client, f"test/layers-base-{name}", [base, app])
    _, config, digests = push(client, f"test/layers-app-{name}", [base, app, top_layer()])
    assert digests[:2] == base_digests
    return {"base": f"test/layers-base-{name}", "app": f"test/layers-app-{name}", "config": config, "layers": digests}


def test_an_image_on_a_scanned_base_downloads_its_own_layer_only_and_reads_as_a_cold_scan(client, images):
    store = ScannedLayerStore()
    read_image(client, images["base"], "v1", records=store)
    assert set(ScannedLayer.objects.values_list("digest", flat=True)) == set(images["layers"][:2])

    fetched = blob_requests(client)
    warm = read_image(client, images["app"], "v1", records=store)
    assert fetched == [images["config"], images["layers"][2]], "the base layers are never downloaded"
    assert warm == read_image(registry_client("curator"), images["app"], "v1")  # every layer read
    assert warm.secrets and warm.packages and warm.privileges.special_files

    fetched.clear()
    assert read_image(client, images["app"], "v1", records=store) == warm
    assert fetched == [images["config"]], "its own layer was recorded too"


def test_a_layer_twice_in_one_image_is_downloaded_once(client):
    repository = f"test/layers-twice-{uuid.uuid4().hex[:12]}"
    top = top_layer()
    _, config, [first, second, again] = push(client, repository, [top, tar(("x", b"1")), top])
    assert again == first
    fetched = blob_requests(client)
    facts = read_image(client, repository, "v1", records=ScannedLayerStore())
    assert fetched == [config, first, second]
    assert facts == read_image(registry_client("curator"), repository, "v1")


def test_records_of_one_registry_never_serve_another(client, images):
    read_image(client, images["base"], "v1", records=ScannedLayerStore())
    recipe = layer_recipe(max_secret_files=MAX_FILES)
    assert ScannedLayerStore(source="https://harbor.example").get(images["layers"], recipe) == {}
    fetched = blob_requests(client)
    read_image(client, images["app"], "v1", records=ScannedLayerStore(source="https://harbor.example"))
    assert fetched == [images["config"], *images["layers"]]


def test_a_record_that_cannot_be_read_back_means_reading_the_layer_again(client, images):
    store = ScannedLayerStore()
    cold = read_image(client, images["app"], "v1", records=store)
    ScannedLayer.objects.filter(digest=images["layers"][0]).update(record=b"garbage")
    fetched = blob_requests(client)
    assert read_image(client, images["app"], "v1", records=store) == cold
    assert fetched == [images["config"], images["layers"][0]]


def test_the_scan_of_a_build_replays_the_layers_of_its_base(client, images, monkeypatch):
    read_image(client, images["base"], "v1", records=ScannedLayerStore())
    digest = client.manifest_digest(images["app"], "v1")
    team = TeamFactory()
    base = BaseImage.objects.create(slug="layers-base", name="Base", repository=images["base"], tag="v1",
                                    digest=digest, os_family="debian", approved=True)
    recipe = Recipe.objects.create(team=team, name="app", base=base)
    build = Build.objects.create(recipe=recipe, team=team, status=Build.Status.SUCCEEDED, digest=digest,
                                 quarantine_repository=images["app"], quarantine_tag="v1")
    scanner = registry_client("scanner")
    fetched = blob_requests(scanner)
    monkeypatch.setattr(scans, "registry_client", lambda identity: scanner)

    scan = scans.image_scan(build=build)
    assert scan.status == "done", scan.error
    assert fetched == [images["config"], images["layers"][2]]
    assert scan.facts == read_image(client, images["app"], "v1").to_dict()


def test_pruning_deletes_the_records_no_scan_will_read():
    now = timezone.now()
    current = layer_recipe(max_secret_files=MAX_FILES)
    for digest, recipe, used in [("sha256:kept", current, now), ("sha256:other-recipe", "0" * 64, now),
                                 ("sha256:unused", current, now - datetime.timedelta(days=31))]:
        ScannedLayer.objects.create(digest=digest, recipe=recipe, record=b"x", size=1, used=used)
    assert scanned_layers_prune(now=now) == 2
    assert list(ScannedLayer.objects.values_list("digest", flat=True)) == ["sha256:kept"]


def test_the_beat_schedule_prunes_hourly_on_the_housekeeping_queue(settings):
    from compliance.tasks import prune_scanned_layers

    assert settings.CELERY_BEAT_SCHEDULE["prune-scanned-layers"] == {
        "task": "compliance.tasks.prune_scanned_layers", "schedule": 3600}
    assert settings.CELERY_TASK_ROUTES["compliance.tasks.prune_scanned_layers"] == {"queue": "default"}
    ScannedLayer.objects.create(digest="sha256:old", recipe="0" * 64, record=b"x", size=1, used=timezone.now())
    assert prune_scanned_layers() == 1 and prune_scanned_layers() == 0
