"""A registry outage longer than the push retry window: the build fails saying the registry was
unreachable, and once the registry answers again it is retried by itself and published.

The window is shortened to seconds (REGISTRY_RETRY_WINDOW_SECONDS) and the reaper runs every 2 s
from beat, so a minutes-long outage in production is seconds here.
"""
import time

import pytest
from django.conf import settings

from builds.models import Build
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, ComponentVersion
from tests.conftest import wait_for_build
from tests.integration.private_services import wait_until
from tests.integration.test_build_faults import full_log, sleeper_recipe, wait_for_log
from tests.integration.test_fault_registry_outage import registry_tags, registry_with_base  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

WINDOW = 6  # pauses of 1, 2 and 3 s (the last one cut to the window)


@pytest.fixture(scope="module")
def retry_worker(fault_worker_factory, registry_with_base):  # noqa: F811
    return fault_worker_factory("registry-retry", concurrency=1, beat=True, REAPER_INTERVAL_SECONDS=2,
                                PORTAL_REGISTRY_URL=registry_with_base.url, PUSH_ATTEMPTS=0, PUSH_FIRST_DELAY_SECONDS=1,
                                REGISTRY_RETRY_WINDOW_SECONDS=WINDOW)


@pytest.fixture
def busybox(registry_with_base, retry_worker, settings, transactional_db):  # noqa: F811
    from catalog.services import starter_catalog_load

    settings.REGISTRY_URL = registry_with_base.url
    report = starter_catalog_load()
    assert any(line.startswith("base busybox:") and "NOT" not in line for line in report), report
    return BaseImage.objects.get(slug="busybox")


def test_a_build_failed_by_a_registry_outage_is_retried_and_published_when_it_returns(
        busybox, registry_with_base, team, member, client):  # noqa: F811
    registry = registry_with_base
    recipe = sleeper_recipe(team, member, "outlast", 2)
    runtime_user = ComponentVersion.objects.get(component__slug="runtime-user")
    recipe = recipe_save(user=member, team=team, name="outlast", base=busybox, recipe=recipe,  # non-root: publishable
                         choices=[(recipe.choices.get().version, {}), (runtime_user, {"uid": "10001"})])
    build = build_request(user=member, recipe=recipe, no_cache=True)
    wait_for_log(build, "started-sleeping-outlast")
    registry.stop()
    stopped = time.monotonic()
    try:
        wait_until(lambda: Build.objects.get(pk=build.pk).status == Build.Status.FAILED, 90, "the push giving up")
        failed_after = time.monotonic() - stopped
        build.refresh_from_db()
        assert build.error_code == "build:app:registry-unreachable", build.error_message
        assert f"over {WINDOW} s" in build.error_message, build.error_message
        assert "will be retried automatically once the registry answers again" in build.error_message
        assert full_log(build).count("retrying in") == 3, full_log(build)
        client.force_login(member)
        assert b"retried automatically once the registry answers again" in client.get(f"/builds/{build.pk}").content
        time.sleep(5)  # two reaper passes while the registry is still away: nothing is retried
        build.refresh_from_db()
        assert build.status == Build.Status.FAILED and not build.auto_retried
    finally:
        registry.start()
    back = time.monotonic()
    wait_until(lambda: Build.objects.get(pk=build.pk).auto_retried, 60, "the reaper retrying the build")
    retried_after = time.monotonic() - back
    wait_for_build(build, timeout=180)
    print(f"\nregistry down {back - stopped:.0f} s: build {build.pk} failed {failed_after:.1f} s after the registry stopped, "
          f"queued again {retried_after:.1f} s after it returned, {build.status} "
          f"{(build.finished - build.created).total_seconds():.0f} s after it was requested")
    assert retried_after < 30
    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert build.attempts == 2 and build.auto_retried
    assert build.log_chunks.filter(step="reaper", text__contains="The registry answers again").count() == 1
    assert build.verdicts.get().passed
    assert build.published_reference.endswith("@" + build.digest)
    published = f"{settings.PUBLISHED_REPOSITORY_PREFIX}/{team.slug}/outlast"
    assert "latest" in registry_tags(registry, published)
