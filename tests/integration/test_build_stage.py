"""The build stage on real parts: the package's .paas/build-env.sh and the team's build command run in
a throw-away image with no network, only the build output reaches the final image, and every image
the build stage made is gone afterwards, also when it fails."""
import re

import docker
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from builds.compose.build_stage import STAGE_LABEL
from builds.models import Build
from builds.recipes.services import recipe_save
from builds.services import build_request
from builds.team_scripts.build_settings import recipe_build_settings_save
from catalog.models import BaseImage
from tests.builds.team_scripts.test_packages import targz
from tests.conftest import run_in_image, wait_for_build

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
HOSTILE = "$(id); rm -rf / `uname` 'q' \\ \"quoted\" ${HOME} ]"
# With network_mode "none" a container has only the loopback interface; on a network it has eth0.
# (Whether the internet answers says nothing here: the machines have no internet.)
NETWORK_PROBE = b"if grep -q eth0: /proc/net/dev; then echo net > dist/net; else echo no-net > dist/net; fi\n"


def stage_images(value=""):
    wanted = f"{STAGE_LABEL}={value}" if value else STAGE_LABEL
    return {image["Id"] for image in docker.APIClient(version="auto").images(all=True, filters={"label": wanted})}


def stage_containers(run_id):
    return docker.APIClient(version="auto").containers(all=True, filters={"label": f"{STAGE_LABEL}={run_id}"})


def stage_run_id(build):
    """The label value this run gave the build stage's layers, as the engine's log shows it."""
    found = re.findall(rf"LABEL {re.escape(STAGE_LABEL)}=({build.pk}-[0-9a-f]+)", full_log(build))
    assert found, "the build stage labelled its layers"
    return found[0]


def full_log(build):
    return "".join(build.log_chunks.order_by("seq").values_list("text", flat=True))


def removed_count(build):
    found = re.findall(r"Build stage: removed its (\d+) image\(s\)", full_log(build))
    assert found, "the cleanup reported what it removed:\n" + full_log(build)
    return int(found[-1])


def scripted_recipe(member, team, name, build_env, command):
    package = targz(("app-1.0/.paas/build-env.sh", build_env), ("app-1.0/src/greeting.txt", b"hello from the source\n"))
    recipe = recipe_save(user=member, team=team, name=name, base=BaseImage.objects.get(slug="busybox"), choices=[],
                         artifact=SimpleUploadedFile("app.tar.gz", package))
    return recipe_build_settings_save(user=member, recipe=recipe, build_command=command, build_output="dist")


def test_the_build_output_reaches_the_image_and_the_build_stage_leaves_no_image(starter_catalog, celery_worker, team, member):
    build_env = (b"#!/bin/sh\nset -eu\nmkdir -p dist\n"
                 + NETWORK_PROBE)
    command = ["sh", "-c", 'cp src/greeting.txt dist/ && printf "%s" "$1" > dist/argument', "sh", HOSTILE]
    recipe = scripted_recipe(member, team, "compiled", build_env, command)
    before = stage_images()

    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    reference = f"{settings.REGISTRY_URL.split('://')[1]}/{build.quarantine_repository}@{build.digest}"
    status, output = run_in_image(reference, ["sh", "-c", "cat /app/dist/greeting.txt /app/dist/net /app/dist/argument; "
                                                          "echo; ls /app; ls /app/dist"])
    assert status == 0, output
    lines = output.splitlines()
    assert lines[:3] == ["hello from the source", "no-net", HOSTILE], "the build ran offline; the hostile word stayed one word"
    assert lines[3:] == ["dist", "argument", "greeting.txt", "net"], "only the build output reached the image"
    assert removed_count(build) >= 5, "the build stage made images (one per step) and removed them"
    run_id = stage_run_id(build)
    assert stage_images(run_id) == set() and stage_images() == before
    assert stage_containers(run_id) == []


def test_a_failing_build_env_script_fails_the_build_clearly_and_leaves_no_stage_image(
        starter_catalog, celery_worker, team, member, client):
    build_env = b"#!/bin/sh\necho compiling the native parts\necho missing compiler >&2\nexit 3\n"
    recipe = scripted_recipe(member, team, "broken-build", build_env, "make dist")
    before = stage_images()

    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.FAILED
    assert build.error_code == "build:user:step-failed"
    assert build.error_message.startswith("Build stage: the package's .paas/build-env.sh failed")
    assert "non-zero code: 3" in build.error_message
    assert build.failed_step.startswith("build stage: Step") and "build-env.sh" in build.failed_step
    assert build.steps["build"]["status"] == "failed" and build.digest == ""
    assert removed_count(build) >= 3, "the finished steps' layers were there and went"
    run_id = stage_run_id(build)
    assert stage_images(run_id) == set() and stage_images() == before
    assert stage_containers(run_id) == []
    client.force_login(member)
    page = client.get(reverse("build-detail", args=[build.pk])).content.decode()
    assert "build-env.sh failed" in page and "compiling the native parts" in page, "the reason and the log tail show"


def test_a_team_granted_network_gets_it_in_the_build_stage(starter_catalog, celery_worker, team, member):
    team.script_network = True
    team.save(update_fields=["script_network"])
    build_env = (b"#!/bin/sh\nmkdir -p dist\n"
                 + NETWORK_PROBE)
    recipe = scripted_recipe(member, team, "networked", build_env, None)

    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert "network access granted to the team" in build.build_stage
    reference = f"{settings.REGISTRY_URL.split('://')[1]}/{build.quarantine_repository}@{build.digest}"
    assert run_in_image(reference, ["cat", "/app/dist/net"]) == (0, "net\n")


def test_a_cancelled_build_stage_leaves_no_image(starter_catalog, celery_worker, team, member):
    from builds.services import build_cancel
    from tests.integration.test_build_faults import wait_for_log

    build_env = b"#!/bin/sh\necho started-the-long-build\nsleep 300\n"
    recipe = scripted_recipe(member, team, "cancelled-build", build_env, None)
    before = stage_images()
    build = build_request(user=member, recipe=recipe)
    wait_for_log(build, "started-the-long-build")
    build_cancel(user=member, build=build)

    build = wait_for_build(build, timeout=60)

    assert build.status == Build.Status.CANCELLED
    run_id = stage_run_id(build)
    assert removed_count(build) >= 3
    assert stage_images(run_id) == set() and stage_images() == before
    assert stage_containers(run_id) == []


def test_a_build_output_that_was_never_made_fails_clearly_and_leaves_no_stage_image(
        starter_catalog, celery_worker, team, member):
    recipe = scripted_recipe(member, team, "no-output", b"#!/bin/sh\necho nothing to build\n", ["true"])
    before = stage_images()

    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.FAILED
    assert build.error_message.startswith("The build stage did not leave its build output dist")
    assert "COPY --from=" in build.failed_step
    run_id = stage_run_id(build)
    assert stage_images(run_id) == set() and stage_images() == before


def test_images_of_a_run_that_never_cleaned_up_are_removed_later_and_fresh_ones_are_kept(services):
    import time
    import uuid

    from adapters.engine import context_tar, image_build
    from builds.runner.build_stage import build_stage_orphans_remove

    run_id = f"orphan-{uuid.uuid4().hex[:8]}"
    dockerfile = f"FROM 127.0.0.1:5000/base/busybox:1.35\nLABEL {STAGE_LABEL}={run_id}\nRUN echo left-behind > /x\n"
    image_build(context=context_tar({"Dockerfile": dockerfile.encode()}), tag=f"portal-{run_id}:latest", build_id=0,
                on_line=lambda line: None, deadline_seconds=120)
    made = stage_images(run_id)
    assert len(made) >= 2, "the labelled layers exist, as a killed worker would leave them"

    assert build_stage_orphans_remove(older_than_seconds=3600) == 0 and stage_images(run_id) == made, "recent runs stay"
    removed = build_stage_orphans_remove(older_than_seconds=3600, now=time.time() + 7200)
    assert removed >= len(made) and stage_images(run_id) == set()
