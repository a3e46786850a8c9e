"""The registry goes away while a build is on its way to the push.

The push retries with backoff (logged); if the registry stays away the build fails saying
"registry unreachable" and nothing is published, not even half; if it comes back within the
retry window the build succeeds as if nothing happened.
"""
import time

import docker
import pytest
import requests
from django.conf import settings

from builds.models import Build
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, Component, ComponentVersion
from compliance.attestations import oci
from compliance.gate import version_tag
from tests.conftest import wait_for_build
from tests.integration.private_services import wait_until
from tests.integration.test_build_faults import full_log, sleeper_recipe, wait_for_log

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PUSH_ATTEMPTS, FIRST_DELAY = 4, 1  # pauses of 1, 2 and 4 s: a 7 s window for the registry to return


@pytest.fixture(scope="module")
def registry_with_base(private_registry):
    """The private registry holding the busybox base image, copied from the local engine (the
    shared registry's image is already there); local tags made for it are removed at the end."""
    client = docker.APIClient(version="auto")
    source = "127.0.0.1:5000/base/busybox:1.35"
    try:
        image = client.inspect_image(source)["Id"]
    except docker.errors.ImageNotFound:
        pytest.fail(f"{source} is not in the local engine: run `make base-images`", pytrace=False)
    target = f"{private_registry.host}/base/busybox"
    client.tag(image, target, tag="1.35")
    events = list(client.push(target, tag="1.35", stream=True, decode=True))
    assert not [e for e in events if "error" in e], events
    yield private_registry
    for listed in client.images():
        for tag in listed.get("RepoTags") or []:
            if tag.startswith(private_registry.host + "/"):
                client.remove_image(tag, noprune=True)


@pytest.fixture(scope="module")
def push_worker(fault_worker_factory, registry_with_base):
    return fault_worker_factory("registry-outage", concurrency=1, PORTAL_REGISTRY_URL=registry_with_base.url,
                                PUSH_ATTEMPTS=PUSH_ATTEMPTS, PUSH_FIRST_DELAY_SECONDS=FIRST_DELAY)


@pytest.fixture
def busybox(registry_with_base, push_worker, settings, transactional_db):
    """The catalog pinned to the private registry's busybox, as the portal would see it."""
    from catalog.services import starter_catalog_load

    settings.REGISTRY_URL = registry_with_base.url
    report = starter_catalog_load()
    assert any(line.startswith("base busybox:") and "NOT" not in line for line in report), report
    return BaseImage.objects.get(slug="busybox")


def registry_tags(registry, repository):
    answer = requests.get(f"{registry.url}/v2/{repository}/tags/list", timeout=5)
    return [] if answer.status_code == 404 else answer.json().get("tags") or []


def test_a_push_to_a_registry_that_stays_down_fails_clearly_and_publishes_nothing(
        busybox, registry_with_base, team, member, client):
    registry = registry_with_base
    recipe = sleeper_recipe(team, member, "outage", 2)
    build = build_request(user=member, recipe=recipe, no_cache=True)
    wait_for_log(build, "started-sleeping-outage")
    registry.stop()  # gone before the push starts, and for good (until after the build)
    try:
        wait_for_build(build, timeout=120)
    finally:
        registry.start()

    assert build.status == Build.Status.FAILED
    assert build.error_code == "build:app:registry-unreachable"
    assert build.error_message.startswith(f"registry unreachable ({registry.host})"), build.error_message
    assert f"gave up after {PUSH_ATTEMPTS} attempts" in build.error_message
    log = full_log(build)
    assert log.count("retrying in") == PUSH_ATTEMPTS - 1, log
    assert [build.steps[s]["status"] for s in ("build", "push", "scan", "policy", "publish")] == \
        ["done", "failed", "pending", "pending", "pending"]
    # What the user sees: the build page and the API say why.
    client.force_login(member)
    page = client.get(f"/builds/{build.pk}")
    assert page.status_code == 200 and b"registry unreachable" in page.content
    api = client.get(f"/api/builds/{build.pk}/").json()
    assert api["status"] == "failed" and api["error_code"] == "build:app:registry-unreachable"
    assert "registry unreachable" in api["error_message"]
    # Nothing half-published: no verdict, no publication, no tag in the registry (back up now).
    assert build.digest == "" and build.published_reference == ""
    assert not build.verdicts.exists(), "no verdict may claim anything about an image never pushed"
    assert not [r for r in registry.repositories() if r.startswith(f"{settings.PUBLISHED_REPOSITORY_PREFIX}/")]
    assert registry_tags(registry, f"{settings.QUARANTINE_REPOSITORY_PREFIX}/{team.slug}/outage") == []
    local_tags = [tag for image in docker.APIClient(version="auto").images() for tag in image.get("RepoTags") or []]
    assert not [tag for tag in local_tags if tag.endswith(f"/outage:build-{build.pk}") or
                tag == f"portal-build-{build.pk}:latest"], "no local tag left behind on the engine"


def test_a_registry_back_within_the_retry_window_lets_the_build_succeed(
        busybox, registry_with_base, team, member):
    registry = registry_with_base
    recipe = sleeper_recipe(team, member, "blip", 2)
    runtime_user = ComponentVersion.objects.get(component__slug="runtime-user")
    recipe = recipe_save(user=member, team=team, name="blip", base=busybox, recipe=recipe,  # non-root: publishable
                         choices=[(recipe.choices.get().version, {}), (runtime_user, {"uid": "10001"})])
    build = build_request(user=member, recipe=recipe, no_cache=True)
    wait_for_log(build, "started-sleeping-blip")
    registry.stop()
    try:
        wait_for_log(build, "retrying in", timeout=60)  # the push met the outage
    finally:
        registry.start()
    wait_for_build(build, timeout=120)

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert "registry unreachable" in full_log(build)
    repository = f"{settings.QUARANTINE_REPOSITORY_PREFIX}/{team.slug}/blip"
    assert registry_tags(registry, repository) == [build.quarantine_tag]
    manifest = requests.head(f"{registry.url}/v2/{repository}/manifests/{build.quarantine_tag}", timeout=5,
                             headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert manifest.headers["Docker-Content-Digest"] == build.digest, "the pushed image is whole"
    assert build.verdicts.get().passed
    assert build.published_reference.endswith("@" + build.digest)
    published = f"{settings.PUBLISHED_REPOSITORY_PREFIX}/{team.slug}/blip"
    attachments = [oci.signature_tag(build.digest), oci.attestation_tag(build.digest), oci.referrers_tag(build.digest)]
    assert sorted(registry_tags(registry, published)) == sorted([version_tag(build), "latest", *attachments]), \
        "the version tag, latest, and the signature and attestations beside them"
    manifest = requests.head(f"{registry.url}/v2/{published}/manifests/{version_tag(build)}", timeout=5,
                             headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert manifest.headers["Docker-Content-Digest"] == build.digest, "the very image that was pushed"


def test_a_registry_killed_in_the_middle_of_a_push_still_ends_with_the_whole_image(
        busybox, registry_with_base, team, member):
    """The registry dies while a layer uploads (a bulky random layer keeps the upload going
    for a while) and comes back a second later: the push resumes or restarts, never half."""
    registry = registry_with_base
    component = Component.objects.create(slug="bulky", name="Bulky", kind="option")
    bulky = ComponentVersion.objects.create(component=component, version="1", os_families=["busybox"],
                                            fragment="RUN head -c 48000000 /dev/urandom > /bulk")
    runtime_user = ComponentVersion.objects.get(component__slug="runtime-user")
    recipe = recipe_save(user=member, team=team, name="bulky", base=busybox,
                         choices=[(bulky, {}), (runtime_user, {"uid": "10001"})])
    build = build_request(user=member, recipe=recipe, no_cache=True)
    wait_until(lambda: Build.objects.filter(pk=build.pk, current_step="push").exists() or
               Build.objects.get(pk=build.pk).is_done, 120, "the push starting")
    time.sleep(0.3)  # the image is tagged and the upload under way
    registry.stop()
    time.sleep(1)
    registry.start()
    wait_for_build(build, timeout=180)

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    log = full_log(build)
    assert "Retrying in" in log or "retrying in" in log, "the push met the outage:\n" + log[-3000:]
    repository = f"{settings.QUARANTINE_REPOSITORY_PREFIX}/{team.slug}/bulky"
    manifest = requests.get(f"{registry.url}/v2/{repository}/manifests/{build.quarantine_tag}", timeout=5,
                            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert manifest.headers["Docker-Content-Digest"] == build.digest
    for layer in manifest.json()["layers"]:  # every layer the manifest names is really there
        blob = requests.head(f"{registry.url}/v2/{repository}/blobs/{layer['digest']}", timeout=5)
        assert blob.status_code == 200 and int(blob.headers["Content-Length"]) == layer["size"]
    assert build.published_reference.endswith("@" + build.digest)
