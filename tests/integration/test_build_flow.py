"""End to end on real parts: Celery worker on Redis + PostgreSQL, Docker Engine, registry."""
import pytest
from django.conf import settings

from adapters.factory import registry_client
from builds.models import Build
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, ComponentVersion
from compliance.gate import version_tag
from tests.conftest import run_in_image, wait_for_build

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def version(slug):
    return ComponentVersion.objects.get(component__slug=slug)


def registry_digest(repository, tag):
    digest = registry_client("scanner").manifest_digest(repository, tag)
    assert digest, f"{repository}:{tag} not in the registry"
    return digest


def test_it_publishes_a_compliant_busybox_image_with_the_digest_the_registry_reports(
        starter_catalog, celery_worker, team, member):
    hostile = "it's $(id) && `uname` \"q\" ${HOME}"
    recipe = recipe_save(
        user=member, team=team, name="hello", base=BaseImage.objects.get(slug="busybox"),
        choices=[(version("runtime-user"), {"uid": "10001"}), (version("env-var"), {"name": "GREETING", "value": hostile})],
    )
    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert build.digest == registry_digest(build.quarantine_repository, build.quarantine_tag)
    assert build.log_chunks.filter(text__contains="Step 1/").exists(), "the engine's log lines were stored"
    verdict = build.verdicts.get()
    assert verdict.passed, verdict.results
    published_repo = f"{settings.PUBLISHED_REPOSITORY_PREFIX}/{team.slug}/hello"
    assert registry_digest(published_repo, version_tag(build)) == build.digest
    assert build.published_reference.endswith(f"@{build.digest}")
    # the hostile value reached the image literally, not through a shell
    # by digest: a tag such as :1 may name a stale local image from an earlier test database
    reference = f"{settings.REGISTRY_URL.split('://')[1]}/{published_repo}@{build.digest}"
    status, output = run_in_image(reference, ["sh", "-c", 'id -u; printf "%s" "$GREETING"'])
    assert status == 0, output
    assert output.splitlines()[0] == "10001"
    assert output.splitlines()[1] == hostile


def test_it_blocks_an_image_that_runs_as_root(starter_catalog, celery_worker, team, member):
    recipe = recipe_save(user=member, team=team, name="rooty", base=BaseImage.objects.get(slug="busybox"), choices=[])
    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.SUCCEEDED
    verdict = build.verdicts.get()
    assert not verdict.passed
    failing = {r["rule"] for r in verdict.failures}
    assert failing == {"non-root-user", "non-root-group"}, "root runs with root's group too"
    assert build.steps["publish"]["status"] == "blocked"
    assert build.published_reference == ""
    published = f"{settings.PUBLISHED_REPOSITORY_PREFIX}/{team.slug}/rooty"
    assert registry_client("scanner").tags(published) == [], "a blocked image must never reach the publication repository"


def test_it_shows_the_failing_step_when_a_dockerfile_step_fails(starter_catalog, celery_worker, team, member):
    from catalog.models import Component

    broken = Component.objects.create(slug="broken", name="Broken option", kind="option")
    bad = ComponentVersion.objects.create(component=broken, version="1", os_families=["busybox"],
                                          fragment="RUN echo about to fail && false")
    recipe = recipe_save(user=member, team=team, name="broken", base=BaseImage.objects.get(slug="busybox"),
                         choices=[(bad, {})])
    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.FAILED
    assert build.error_code == "build:user:step-failed"
    assert "RUN echo about to fail && false" in build.failed_step
    assert "non-zero code: 1" in build.error_message
    assert build.steps["build"]["status"] == "failed"
    assert build.steps["push"]["status"] == "pending"
    assert build.log_chunks.filter(text__contains="about to fail").exists()
    assert build.digest == ""


def test_it_reuses_the_image_of_an_identical_composition_unless_asked_for_a_fresh_build(
        starter_catalog, celery_worker, team, member):
    def identical(name):
        return recipe_save(user=member, team=team, name=name, base=BaseImage.objects.get(slug="busybox"),
                           choices=[(version("runtime-user"), {"uid": "10001"})])

    recipe = identical("again")
    first = wait_for_build(build_request(user=member, recipe=recipe))
    assert first.published_reference
    # the same recipe again: its published build answers, nothing is queued
    answer = build_request(user=member, recipe=recipe)
    assert answer.pk == first.pk and answer.answered_by_existing and Build.objects.filter(recipe=recipe).count() == 1
    # another recipe of the identical composition publishes into its own repository: a worker reuses the image
    second = wait_for_build(build_request(user=member, recipe=identical("again-twin")))

    assert second.reused_from_id == first.pk and second.status == Build.Status.SUCCEEDED
    assert second.digest == first.digest == registry_digest(second.quarantine_repository, second.quarantine_tag)
    assert second.log_chunks.filter(text__contains="reusing its image, no rebuild").exists()
    assert not second.log_chunks.filter(text__contains="Step 1/").exists(), "the engine was not asked to build"
    assert second.scan.packages.count() == first.scan.packages.count()
    assert bytes(second.scan.cyclonedx) == bytes(first.scan.cyclonedx) != b"", "the same SBOM document, made once"
    assert second.verdicts.get().passed and second.published_reference.endswith(first.digest)

    fresh = wait_for_build(build_request(user=member, recipe=recipe, no_cache=True))
    assert fresh.reused_from_id is None and fresh.log_chunks.filter(text__contains="Step 1/").exists()


def test_it_runs_the_image_script_with_no_network_before_the_final_user(starter_catalog, celery_worker, team, member):
    import docker as docker_sdk
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.builds.team_scripts.test_packages import targz
    from tests.conftest import run_in_image

    script = (b"#!/bin/sh\nset -eu\nid -u > /app/script-ran-as\n"
              b"if wget -q -T 3 -O /dev/null http://deb.debian.org/; then echo net > /app/net; else echo no-net > /app/net; fi\n")
    package = targz(("app-1.0/.paas/image-env.sh", script), ("app-1.0/run.sh", b"echo hi\n"))
    recipe = recipe_save(user=member, team=team, name="scripted", base=BaseImage.objects.get(slug="busybox"),
                         choices=[(version("runtime-user"), {"uid": "10001"})],
                         artifact=SimpleUploadedFile("app.tar.gz", package))
    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert "image-env.sh" in build.script_stage
    reference = f"{settings.REGISTRY_URL.split('://')[1]}/{build.quarantine_repository}@{build.digest}"
    status, output = run_in_image(reference, ["sh", "-c", "cat /app/script-ran-as /app/net; id -u"])
    assert status == 0 and output.split() == ["0", "no-net", "10001"]
    try:
        docker_sdk.APIClient(version="auto").inspect_image(f"portal-build-{build.pk}-stage-one:latest")
        leftover = True
    except docker_sdk.errors.ImageNotFound:
        leftover = False
    assert not leftover, "the build-stage image is removed after use"


def test_a_new_repository_gets_the_base_layers_by_mount_not_by_upload(starter_catalog, celery_worker, team, member):
    """The engine mounts a layer only from the repositories it pushed it to last (other recipes'
    quarantine, closed to this build's token), then compresses and uploads the whole base: the
    runner mounts the base's layers first, so the push finds them there."""
    import json
    import uuid

    base = BaseImage.objects.get(slug="busybox")
    recipe = recipe_save(user=member, team=team, name=f"fresh-{uuid.uuid4().hex[:8]}", base=base,
                         choices=[(version("runtime-user"), {"uid": "10001"})])
    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    scanner = registry_client("scanner")
    manifest, _ = scanner.manifest(base.repository, base.digest)
    diff_ids = json.loads(scanner.blob(base.repository, manifest["config"]["digest"]))["rootfs"]["diff_ids"]
    log = "".join(build.log_chunks.order_by("seq").values_list("text", flat=True))
    assert f"Mounted {len(diff_ids)} layer" in log
    for diff_id in diff_ids:
        short = diff_id.removeprefix("sha256:")[:12]
        assert f"{short}: Layer already exists" in log and f"{short}: Pushed" not in log, log[-3000:]
