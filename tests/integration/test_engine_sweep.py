"""The engine sweep removes what the portal labelled and no live build owns; a dry run removes nothing.

Other test runs share this engine and their databases reuse our build ids, so the sweep here only
sees the images this test made (the listing is narrowed to them); everything else it does is real."""
import io
import time
import uuid
from unittest import mock

import docker
import pytest
from django.core.management import call_command

from adapters.engine import context_tar, image_build
from builds.models import Build
from builds.runner import engine_sweep as sweep_module
from builds.runner.engine_sweep import engine_sweep

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def engine():
    return docker.APIClient(version="auto")


def exists(image_id):
    try:
        engine().inspect_image(image_id)
        return True
    except docker.errors.NotFound:
        return False


@pytest.fixture
def labelled_images(services, recipe, team, member):
    """A final image (labelled with its build's id) of a finished build and one of a running build."""
    token = uuid.uuid4().hex
    made = {}
    for status in (Build.Status.FAILED, Build.Status.RUNNING):
        build = Build.objects.create(recipe=recipe, team=team, requested_by=member, status=status, snapshot={}, steps={},
                                     dockerfile="", composition_sha256="0" * 64)
        dockerfile = f"FROM 127.0.0.1:5000/base/busybox:1.35\nRUN echo {token}-{status} > /which\n"
        image_id = image_build(context=context_tar({"Dockerfile": dockerfile.encode()}), tag=f"test-sweep-{token}:{status}",
                               build_id=build.pk, on_line=lambda line: None, deadline_seconds=120)
        made[status] = (build, engine().inspect_image(image_id)["Id"])
    ours = {image_id for _, image_id in made.values()}
    real_listing = sweep_module.portal_images
    with mock.patch.object(sweep_module, "portal_images", lambda: [i for i in real_listing() if i["Id"] in ours]), \
         mock.patch.object(sweep_module, "images_named", lambda repository: []):
        yield made
    for _, image_id in made.values():
        if exists(image_id):
            engine().remove_image(image_id, force=True)


def test_it_keeps_images_younger_than_the_grace_period(labelled_images):
    report = engine_sweep(grace_seconds=3600)
    assert report.removed == []
    assert set(report.kept_recent) | set(report.kept_live) == {i for _, i in labelled_images.values()}


def test_it_removes_the_image_of_a_finished_build_and_keeps_the_running_builds(labelled_images):
    finished, finished_image = labelled_images[Build.Status.FAILED]
    running, running_image = labelled_images[Build.Status.RUNNING]
    time.sleep(1.1)  # the engine's creation times are whole seconds

    report = engine_sweep(grace_seconds=0)

    assert report.removed == [finished_image]
    assert report.owners[finished_image] == finished.pk
    assert report.kept_live == [running_image]
    assert not exists(finished_image), "gone, its name with it"
    assert exists(running_image)


def test_the_command_lists_what_it_would_remove_on_a_dry_run_and_removes_nothing(labelled_images):
    finished, finished_image = labelled_images[Build.Status.FAILED]
    running, running_image = labelled_images[Build.Status.RUNNING]
    time.sleep(1.1)
    out = io.StringIO()

    call_command("engine_sweep", "--dry-run", "--grace-seconds", "0", stdout=out)

    assert f"Would remove {finished_image[:19]} (build {finished.pk})" in out.getvalue()
    assert "Would remove 1 image(s); kept 1 of live builds" in out.getvalue()
    assert exists(finished_image) and exists(running_image)

    call_command("engine_sweep", "--grace-seconds", "0", stdout=io.StringIO())
    assert not exists(finished_image) and exists(running_image)


def test_a_build_stage_label_names_its_build():
    assert sweep_module.image_owner({"Labels": {"io.image-portal.build-stage": "42-a1b2c3"}}) == 42
    assert sweep_module.image_owner({"Labels": {"io.image-portal.build": "7"}}) == 7
    assert sweep_module.image_owner({"Labels": {"io.image-portal.build": "portal-build-id"}}) is None


def test_beat_sends_one_sweep_to_every_build_queue(settings):
    from builds.tasks import sweep_engine, sweep_engines

    assert settings.CELERY_BEAT_SCHEDULE["sweep-engines"]["task"] == "builds.tasks.sweep_engines"
    settings.BUILD_QUEUES = ["builds", "builds-engine2"]
    with mock.patch.object(sweep_engine, "apply_async") as send:
        sweep_engines()
    assert [call.kwargs["queue"] for call in send.call_args_list] == ["builds", "builds-engine2"]
