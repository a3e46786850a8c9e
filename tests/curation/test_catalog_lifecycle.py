"""The lifecycle of component versions (curation.lifecycle): each move's rules, who may move, the
audit; and that a retired or draft version is refused at every door a recipe is saved or built by
(the builder page, the API, a build of an existing recipe)."""
import datetime
import importlib

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from builds.errors import CompositionError
from builds.models import Build, Recipe
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import ComponentVersion, Lifecycle
from curation.lifecycle import LifecycleError, version_transition
from portal.models import AuditEvent
from tests.factories import api_token_for

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 12, 2)


def _move(admin, version, to, **kwargs):
    return version_transition(user=admin, version=version, to=to, today=TODAY, **kwargs)


def _retired(admin, version, replacement=None):
    _move(admin, version, Lifecycle.DEPRECATED, replacement=replacement, sunset_date=TODAY)
    return _move(admin, version, Lifecycle.RETIRED)


# The rules of each move

def test_a_draft_is_published_then_deprecated_with_a_replacement_and_audited(admin, runtime_user, version_two):
    draft = ComponentVersion.objects.create(component=runtime_user.component, version="3", os_families=["busybox"],
                                            fragment="RUN true", lifecycle=Lifecycle.DRAFT)
    assert _move(admin, draft, Lifecycle.PUBLISHED).lifecycle == Lifecycle.PUBLISHED
    moved = _move(admin, runtime_user, Lifecycle.DEPRECATED, replacement=version_two, sunset_date=TODAY + datetime.timedelta(days=30))
    assert (moved.lifecycle, moved.replacement, moved.sunset_date) == (Lifecycle.DEPRECATED, version_two, datetime.date(2027, 1, 1))
    event = AuditEvent.objects.get(action="catalog.version.deprecated")
    assert event.actor == admin and event.data["replacement"] == "2" and event.data["recipes"] == 0
    assert AuditEvent.objects.filter(action="catalog.version.published").count() == 1


def test_deprecating_needs_a_replacement_or_a_sunset_date(admin, runtime_user):
    with pytest.raises(LifecycleError, match="replacement version, a sunset date"):
        _move(admin, runtime_user, Lifecycle.DEPRECATED)
    assert _move(admin, runtime_user, Lifecycle.DEPRECATED, sunset_date=TODAY).replacement is None


def test_the_replacement_must_be_another_published_version_of_the_same_component(admin, runtime_user, version_two):
    other = ComponentVersion.objects.create(component=_component("wget"), version="1", os_families=["busybox"], fragment="RUN true")
    draft = ComponentVersion.objects.create(component=runtime_user.component, version="3", os_families=["busybox"],
                                            fragment="RUN true", lifecycle=Lifecycle.DRAFT)
    for replacement, message in [(other, "must be a version of"), (runtime_user, "cannot replace itself"),
                                 (draft, "only move to a published")]:
        with pytest.raises(LifecycleError, match=message):
            _move(admin, runtime_user, Lifecycle.DEPRECATED, replacement=replacement)
    assert ComponentVersion.objects.get(pk=runtime_user.pk).lifecycle == Lifecycle.PUBLISHED


def _component(slug):
    from catalog.models import Component
    return Component.objects.create(slug=slug, name=slug, kind="option")


def test_a_sunset_date_in_the_past_is_refused(admin, runtime_user):
    with pytest.raises(LifecycleError, match="has passed"):
        _move(admin, runtime_user, Lifecycle.DEPRECATED, sunset_date=TODAY - datetime.timedelta(days=1))


@pytest.mark.parametrize("start, to", [("published", "retired"), ("draft", "deprecated"), ("published", "draft"),
                                       ("retired", "published"), ("published", "gone")])
def test_moves_outside_the_lifecycle_are_refused(admin, runtime_user, start, to):
    ComponentVersion.objects.filter(pk=runtime_user.pk).update(lifecycle=start)
    with pytest.raises(LifecycleError):
        _move(admin, runtime_user, to, sunset_date=TODAY)
    assert ComponentVersion.objects.get(pk=runtime_user.pk).lifecycle == start


def test_a_used_version_is_retired_only_after_its_sunset_date(admin, recipe, runtime_user, version_two):
    _move(admin, runtime_user, Lifecycle.DEPRECATED, replacement=version_two, sunset_date=TODAY + datetime.timedelta(days=1))
    with pytest.raises(LifecycleError, match="has not passed"):
        _move(admin, runtime_user, Lifecycle.RETIRED)
    retired = version_transition(user=admin, version=runtime_user, to=Lifecycle.RETIRED, today=TODAY + datetime.timedelta(days=1))
    assert retired.lifecycle == Lifecycle.RETIRED


def test_a_used_version_without_a_sunset_date_is_not_retired_until_nobody_uses_it(admin, recipe, member, team, busybox,
                                                                                     runtime_user, version_two):
    _move(admin, runtime_user, Lifecycle.DEPRECATED, replacement=version_two)
    with pytest.raises(LifecycleError, match="no sunset date"):
        _move(admin, runtime_user, Lifecycle.RETIRED)
    recipe_save(user=member, team=team, name=recipe.name, base=busybox, choices=[(version_two, {"uid": "10001"})], recipe=recipe)
    assert _move(admin, runtime_user, Lifecycle.RETIRED).lifecycle == Lifecycle.RETIRED


def test_withdrawing_a_deprecation_clears_its_replacement_and_sunset(admin, runtime_user, version_two):
    _move(admin, runtime_user, Lifecycle.DEPRECATED, replacement=version_two, sunset_date=TODAY)
    again = _move(admin, runtime_user, Lifecycle.PUBLISHED)
    assert (again.lifecycle, again.replacement, again.sunset_date) == (Lifecycle.PUBLISHED, None, None)


def test_only_platform_admins_move_versions(member, reviewer, runtime_user):
    for user in (member, reviewer):
        with pytest.raises(PermissionDenied):
            version_transition(user=user, version=runtime_user, to=Lifecycle.DEPRECATED, sunset_date=TODAY)
    assert ComponentVersion.objects.get(pk=runtime_user.pk).lifecycle == Lifecycle.PUBLISHED
    assert not AuditEvent.objects.filter(action__startswith="catalog.version.").exists()


# A retired (or draft) version at every door

def test_a_recipe_using_a_retired_version_cannot_be_built(admin, member, recipe, runtime_user, version_two):
    _retired(admin, runtime_user, replacement=version_two)
    with pytest.raises(CompositionError, match="is retired and can no longer be built: edit the recipe to use version 2"):
        build_request(user=member, recipe=recipe)
    assert not Build.objects.exists()


def test_the_service_refuses_to_save_a_recipe_with_a_retired_or_draft_version(admin, member, team, busybox, runtime_user):
    draft = ComponentVersion.objects.create(component=runtime_user.component, version="3", os_families=["busybox"],
                                            fragment="RUN true", final_fragment="USER {{ uid }}", lifecycle=Lifecycle.DRAFT,
                                            parameters=runtime_user.parameters)
    with pytest.raises(CompositionError, match="no version 3 you may use"):
        recipe_save(user=member, team=team, name="pay-draft", base=busybox, choices=[(draft, {"uid": "10001"})])
    _retired(admin, runtime_user)
    with pytest.raises(CompositionError, match="retired"):
        recipe_save(user=member, team=team, name="pay-old", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
    assert not Recipe.objects.exists()


def test_the_builder_page_refuses_a_retired_version_named_in_the_form(client, admin, member, team, busybox, runtime_user,
                                                                       version_two):
    _retired(admin, runtime_user, replacement=version_two)
    client.force_login(member)
    response = client.post(reverse("recipe-new"), {"team": team.slug, "name": "pay-old", "base": busybox.slug,
                                                   "component": "runtime-user", "version-runtime-user": "1",
                                                   "param-runtime-user-uid": "10001", "action": "save"})
    assert response.status_code == 400
    assert "Non-root runtime user 1 is retired" in response.content.decode()
    assert not Recipe.objects.exists()


def test_the_builder_page_build_button_refuses_a_recipe_on_a_retired_version(client, admin, member, recipe, runtime_user,
                                                                               version_two):
    _retired(admin, runtime_user, replacement=version_two)
    client.force_login(member)
    response = client.post(reverse("recipe-build", args=[recipe.pk]), follow=True)
    assert "Cannot build: Non-root runtime user 1 is retired" in response.content.decode()
    assert not Build.objects.exists()


def _api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


def test_the_api_refuses_a_retired_version_and_does_not_know_a_draft(admin, member, team, busybox, runtime_user, version_two):
    ComponentVersion.objects.create(component=runtime_user.component, version="3", os_families=["busybox"], fragment="RUN true",
                                    lifecycle=Lifecycle.DRAFT)
    _retired(admin, runtime_user, replacement=version_two)
    body = {"team": team.slug, "name": "pay-api", "base": busybox.slug,
            "components": [{"component": "runtime-user", "version": "1", "values": {"uid": "10001"}}]}
    retired = _api(member).post("/api/recipes/", body, format="json")
    assert retired.status_code == 400 and "is retired" in retired.json()["detail"]
    body["components"][0]["version"] = "3"
    draft = _api(member).post("/api/recipes/", body, format="json")
    assert draft.status_code == 400 and "has no version 3" in str(draft.json())
    assert not Recipe.objects.exists()


def test_the_api_refuses_to_build_a_recipe_on_a_retired_version(admin, member, recipe, runtime_user, version_two):
    _retired(admin, runtime_user, replacement=version_two)
    response = _api(member).post(f"/api/recipes/{recipe.pk}/build/", {}, format="json")
    assert response.status_code == 400 and "is retired" in response.json()["detail"]
    assert not Build.objects.exists()


def test_a_deprecated_version_still_builds_until_it_is_retired(admin, member, recipe, runtime_user, version_two):
    _move(admin, runtime_user, Lifecycle.DEPRECATED, replacement=version_two)
    assert build_request(user=member, recipe=recipe).pk


# The lifecycle in the API

def test_an_admin_deprecates_a_version_in_the_api_under_the_same_rules(admin, recipe, runtime_user, version_two):
    url = f"/api/catalog/versions/{runtime_user.pk}/lifecycle/"
    refused = _api(admin).post(url, {"to": "deprecated"}, format="json")
    assert refused.status_code == 400 and "a replacement version, a sunset date" in refused.json()["detail"]
    unknown = _api(admin).post(url, {"to": "deprecated", "replacement": "9"}, format="json")
    assert unknown.status_code == 400 and "has no version 9" in str(unknown.json())
    done = _api(admin).post(url, {"to": "deprecated", "replacement": "2", "sunset_date": "2099-01-31"}, format="json")
    assert done.status_code == 200
    assert {k: done.json()[k] for k in ("lifecycle", "replacement", "sunset_date")} == {
        "lifecycle": "deprecated", "replacement": "2", "sunset_date": "2099-01-31"}
    early = _api(admin).post(url, {"to": "retired"}, format="json")
    assert early.status_code == 400 and "has not passed" in early.json()["detail"]


def test_members_and_reviewers_cannot_move_versions_in_the_api(member, reviewer, runtime_user):
    for user in (member, reviewer):
        response = _api(user).post(f"/api/catalog/versions/{runtime_user.pk}/lifecycle/", {"to": "deprecated",
                                   "sunset_date": "2099-01-31"}, format="json")
        assert response.status_code == 403
    assert ComponentVersion.objects.get(pk=runtime_user.pk).lifecycle == Lifecycle.PUBLISHED


def test_drafts_are_listed_in_the_api_for_admins_only(admin, member, runtime_user):
    ComponentVersion.objects.create(component=runtime_user.component, version="3", os_families=["busybox"], fragment="RUN true",
                                    lifecycle=Lifecycle.DRAFT)
    seen = {who: [v["version"] for v in _api(user).get("/api/catalog/components/runtime-user/").json()["versions"]]
            for who, user in (("admin", admin), ("member", member))}
    assert seen == {"admin": ["3", "1"], "member": ["1"]}


def test_the_data_migration_gives_existing_deprecated_versions_their_newer_published_replacement(runtime_user, version_two):
    from django.apps import apps
    migration = importlib.import_module("catalog.migrations.0005_version_deprecation_data")
    ComponentVersion.objects.filter(pk=runtime_user.pk).update(lifecycle=Lifecycle.DEPRECATED)
    migration.replacements_fill(apps, None)
    assert ComponentVersion.objects.get(pk=runtime_user.pk).replacement == version_two
    assert ComponentVersion.objects.get(pk=version_two.pk).replacement is None  # published versions stay as they were
