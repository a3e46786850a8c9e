"""A request the recipe's published build already answers (the identical composition, its passing
verdict current under today's rules and data) returns that build at once, queues nothing; anything
that could make a new build differ sends the request to the workers as before."""
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from builds.models import Build
from builds.services import build_request
from compliance.models import PolicyRule, Verdict
from compliance.policy.ruleset import ruleset_for
from compliance.vulndb.store import database_version
from portal.audit import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """Build ids sent to the workers (nothing runs: the on_commit hooks are captured)."""
    sent = []
    monkeypatch.setattr("builds.services.build_dispatch", sent.append)
    return sent


def published(build, *, passed=True, **verdict):
    from compliance.models import ImageScan

    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.SUCCEEDED, digest="sha256:" + "5" * 64, published_reference=f"127.0.0.1:5000/published/x:{build.pk}")
    ImageScan.objects.create(build=build, digest="sha256:" + "5" * 64, status=ImageScan.Status.DONE, os_id="busybox")
    Verdict.objects.create(build=build, passed=passed, results=[], policy_version=Verdict.POLICY_VERSION,
                           ruleset_version=ruleset_for(build.team).version, database_version=database_version(),
                           not_assessed="", **verdict)
    build.refresh_from_db()
    return build


def test_the_recipes_current_published_build_answers_an_identical_request(recipe, member, queued, django_capture_on_commit_callbacks):
    first = published(build_request(user=member, recipe=recipe))
    with django_capture_on_commit_callbacks(execute=True):
        answer = build_request(user=member, recipe=recipe)
    assert answer.pk == first.pk and answer.answered_by_existing
    assert Build.objects.count() == 1 and queued == []
    assert AuditEvent.objects.filter(action="build.answered", target_id=str(first.pk)).exists()


def test_anything_that_could_differ_goes_to_the_workers(recipe, member, team, queued, django_capture_on_commit_callbacks):
    first = published(build_request(user=member, recipe=recipe))

    def requested(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            build = build_request(user=member, recipe=recipe, **kwargs)
        return build.pk != first.pk and not getattr(build, "answered_by_existing", False)

    assert requested(no_cache=True), "no_cache always builds anew"
    current = first.verdicts.get().database_version
    Verdict.objects.filter(build=first).update(database_version=(current or 0) + 1)  # matched on other data
    assert requested()
    Verdict.objects.filter(build=first).update(database_version=current)
    assert not requested(), "back on today's data, the published build answers again"
    PolicyRule.objects.create(team=team, kind="vulnerability-threshold", action="block", params={"max_severity": "High"})
    assert requested(), "the team's rules changed since the verdict"


def test_a_blocked_or_unpublished_or_superseded_build_answers_nothing(recipe, member, queued, django_capture_on_commit_callbacks):
    blocked = published(build_request(user=member, recipe=recipe), passed=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert build_request(user=member, recipe=recipe).pk != blocked.pk
    Build.objects.all().delete()
    unpublished = build_request(user=member, recipe=recipe)
    Build.objects.filter(pk=unpublished.pk).update(status=Build.Status.SUCCEEDED, digest="sha256:" + "5" * 64)
    with django_capture_on_commit_callbacks(execute=True):
        assert build_request(user=member, recipe=recipe).pk != unpublished.pk


def test_the_page_and_the_api_say_nothing_changed(client, recipe, member, queued):
    first = published(build_request(user=member, recipe=recipe))
    client.force_login(member)
    response = client.post(reverse("recipe-build", args=[recipe.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("build-detail", args=[first.pk])
    assert f"Nothing changed since build #{first.pk}" in response.content.decode()
    api = APIClient()
    api.force_authenticate(member)
    answered = api.post(f"/api/recipes/{recipe.pk}/build/", {"no_cache": False}, format="json")
    assert answered.status_code == 200 and answered.json()["id"] == first.pk
    assert api.post(f"/api/recipes/{recipe.pk}/build/", {"no_cache": True}, format="json").status_code == 201


def test_an_older_identical_build_answers_nothing_once_a_newer_image_is_published(
        recipe, member, queued, django_capture_on_commit_callbacks):
    """The recipe went elsewhere and came back: building it must make this composition `latest` again."""
    first = published(build_request(user=member, recipe=recipe))
    newer = published(build_request(user=member, recipe=recipe, no_cache=True))
    Build.objects.filter(pk=newer.pk).update(composition_sha256="f" * 64)
    with django_capture_on_commit_callbacks(execute=True):
        build = build_request(user=member, recipe=recipe)
    assert build.pk not in (first.pk, newer.pk) and build.reused_from_id == first.pk and queued == [build.pk]
