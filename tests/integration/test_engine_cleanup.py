"""A finished build leaves nothing on the engine but the package layers it shares as a cache.

Other test runs share this engine, and their portal databases reuse build ids: every assertion
is about images this test's builds made (ids read from their logs), never a global count."""
import uuid
from unittest import mock

import docker
import pytest

from adapters.engine import BUILD_LABEL, step_images_from_log, step_images_read
from adapters.factory import registry_host
from builds.models import Build
from builds.recipes.services import recipe_save
from builds.runner.layers import CACHE_REPOSITORY
from builds.runner.pipeline import build_run
from builds.services import build_request
from catalog.models import BaseImage, Component, ComponentVersion
from tests.integration.test_build_sharing import busybox_build, full_log

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def engine():
    return docker.APIClient(version="auto")


def present(image_ids):
    """Those of `image_ids` the engine still has, with their names."""
    found = {}
    for image_id in image_ids:
        try:
            details = engine().inspect_image(image_id)
        except docker.errors.NotFound:
            continue
        found[image_id] = details.get("RepoTags", []) + details.get("RepoDigests", [])
    return found


def published_build(team, member, name, fragment):
    """A compliant (non-root) busybox recipe built and published in this process."""
    component = Component.objects.create(slug=f"c-{name}", name=name, kind="option")
    own = ComponentVersion.objects.create(component=component, version="1", os_families=["busybox"], fragment=fragment)
    runtime_user = ComponentVersion.objects.get(component__slug="runtime-user")
    recipe = recipe_save(user=member, team=team, name=name, base=BaseImage.objects.get(slug="busybox"),
                         choices=[(own, {}), (runtime_user, {"uid": "10001"})])
    with mock.patch("builds.services.build_dispatch"):
        build = build_request(user=member, recipe=recipe, no_cache=True)
    build_run(build.pk)
    build.refresh_from_db()
    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert build.published_reference, "published"
    return build


def test_a_failed_build_leaves_none_of_its_images(starter_catalog, team, member):
    token = uuid.uuid4().hex
    build = busybox_build(team, member, "fails-clean", f"RUN echo {token} > /one\nRUN echo failing && false")

    assert build.status == Build.Status.FAILED
    ids = step_images_from_log(full_log(build))
    assert len(ids) == 1, "its first RUN step was committed as an image"
    assert present(ids) == {}


def test_a_published_build_leaves_neither_its_steps_nor_its_final_image(starter_catalog, team, member):
    token = uuid.uuid4().hex
    build = published_build(team, member, "published-clean", f"RUN echo {token} > /one\nRUN echo {token} > /two")

    ids = step_images_from_log(full_log(build))
    assert len(ids) >= 4, "two RUN steps, the runtime user's steps and the label step"
    assert present(ids) == {}, "no step image, no final image (labelled with the build id), no name or digest"
    for reference in (f"portal-build-{build.pk}:latest",
                      f"{registry_host()}/{build.quarantine_repository}@{build.digest}"):
        try:
            found = engine().inspect_image(reference)["Id"].removeprefix("sha256:")
        except docker.errors.NotFound:
            continue
        assert not any(found.startswith(i) for i in ids), f"{reference} still names this build's image"
    labelled = engine().images(all=True, filters={"label": f"{BUILD_LABEL}={build.pk}"})
    assert not [i for i in labelled if any(i["Id"].removeprefix("sha256:").startswith(own) for own in ids)]


def test_a_published_build_keeps_its_package_layers_as_a_named_cache(starter_catalog, team, member):
    token = uuid.uuid4().hex
    # Read as a package transaction (apt-get ... install) by the cache rule; busybox only echoes it.
    build = published_build(team, member, "keeps-cache",
                            f"RUN echo {token} apt-get install > /packages\nRUN echo {token} > /own")
    steps = step_images_read(full_log(build))
    ids = [step.image_id for step in steps]
    tip = next(i for i, step in enumerate(steps) if "apt-get install" in step.instruction)
    cache = f"{CACHE_REPOSITORY}:{ids[tip][:12]}"
    try:
        left = present(ids)
        assert left.pop(ids[tip]) == [cache], "the top package layer stays, named"
        assert set(left) == set(ids[:tip]), "the steps below it stay as its parents, nothing above it"
        assert all(names == [] for names in left.values())
        assert not engine().images(filters={"dangling": True, "reference": cache})
    finally:
        engine().remove_image(cache)  # its parents go with it
    assert present(ids) == {}


def test_a_build_cancelled_after_its_image_was_built_leaves_no_final_image(starter_catalog, team, member):
    """Between the build and the push the final image (build-labelled, named portal-build-<id>) is
    all there is of the build: a cancel right then must not leave it behind."""
    from builds.errors import BuildCancelled

    token = uuid.uuid4().hex
    with mock.patch("builds.runner.pipeline.cancel_check", side_effect=[None, BuildCancelled()]):
        build = busybox_build(team, member, "cancelled-built", f"RUN echo {token} > /one")

    assert build.status == Build.Status.CANCELLED
    assert build.steps["build"]["status"] == "done" and build.image_id
    ids = step_images_from_log(full_log(build))
    assert build.image_id.removeprefix("sha256:").startswith(ids[-1]), "the label step made the final image"
    assert present(ids) == {}
    with pytest.raises(docker.errors.ImageNotFound):
        engine().inspect_image(build.image_id)
