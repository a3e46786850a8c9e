"""The name rule through every door: recipe names and team slugs that could walk out of a team's
registry namespace are refused by the API, both forms, the admin, the models, the build request,
the pipeline's push and the gate, and rows stored before the rule are marked unbuildable."""
import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.urls import reverse

from builds.dockerfile.services import recipe_save_dockerfile
from builds.errors import CompositionError
from builds.models import Build, Recipe
from builds.services import build_request
from compliance.gate import GateClosed, image_publish
from portal.models import GlobalRole, Team
from tests.builds.dockerfile.test_dockerfile_recipes import DOCKERFILE, media  # noqa: F401  (fixtures)
from tests.builds.test_api import api_for
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db
HOSTILE = ["../../published/search/pay-api", "a/b", "a:b", "Pay-Api", "pay..api", "pay-", ".", "x" * 61]


@pytest.mark.parametrize("name", HOSTILE)
def test_the_recipe_api_refuses_the_name_and_saves_nothing(member, busybox, runtime_user, name):  # noqa: F811
    response = api_for(member).post("/api/recipes/", {"team": "payments", "name": name, "base": "busybox",
                                                      "components": [{"component": "runtime-user"}]}, format="json")
    assert response.status_code == 400, response.content
    assert "name" in response.json().get("errors", response.json())
    assert not Recipe.objects.exists()


@pytest.mark.parametrize("name", HOSTILE)
def test_the_dockerfile_api_refuses_the_name(member, busybox, name):  # noqa: F811
    response = api_for(member).post("/api/dockerfile-recipes/", {"team": "payments", "name": name, "dockerfile": DOCKERFILE},
                                    format="json")
    assert response.status_code == 400, response.content
    assert not Recipe.objects.exists()


def test_both_forms_refuse_the_name_with_the_rule(client, member, busybox, runtime_user):  # noqa: F811
    client.force_login(member)
    name = "../../published/search/pay-api"
    composed = client.post(reverse("recipe-new"), {"team": "payments", "name": name, "base": "busybox",
                                                   "component": ["runtime-user"], "action": "save"})
    own = client.post(reverse("recipe-new-dockerfile"), {"team": "payments", "name": name, "action": "save",
                                                         "dockerfile": DOCKERFILE})
    for response in (composed, own):
        assert "lower-case letters and digits" in response.content.decode()
    assert not Recipe.objects.exists()


def test_the_services_refuse_the_name_whatever_called_them(member, team, busybox, runtime_user):  # noqa: F811
    from builds.recipes.services import recipe_save

    with pytest.raises(CompositionError) as composed:
        recipe_save(user=member, team=team, name="a/b", base=busybox, choices=[(runtime_user, {})])
    assert "name" in composed.value.errors
    with pytest.raises(CompositionError) as own:
        recipe_save_dockerfile(user=member, team=team, name="../../published/search/own", dockerfile=DOCKERFILE, build_args={})
    assert "name" in own.value.errors
    assert not Recipe.objects.exists()


def test_the_models_refuse_a_new_or_changed_name_from_any_door(team, busybox):  # noqa: F811
    with pytest.raises(ValidationError):
        Recipe.objects.create(team=team, name="../../published/search/x", base=busybox)
    with pytest.raises(ValidationError):
        Team.objects.create(slug="search/../payments", name="Sneaky")
    team.slug = "Payments"
    with pytest.raises(ValidationError):
        team.save()
    assert Team.objects.get(pk=team.pk).slug == "payments"


def test_the_admin_refuses_a_team_slug_that_is_not_a_registry_name(client):
    admin = with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    client.force_login(admin)
    response = client.post("/admin/portal/team/add/", {
        "slug": "../published", "name": "Evil", "webhook_url": "", "alert_email": "",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    assert response.status_code == 200 and "lower-case letters and digits" in response.content.decode()
    assert not Team.objects.filter(name="Evil").exists()


def test_a_recipe_stored_before_the_rule_is_never_built(recipe, member):  # noqa: F811
    Recipe.objects.filter(pk=recipe.pk).update(name="../../published/search/pay-api")  # behind the services' back
    recipe.refresh_from_db()
    with pytest.raises(CompositionError, match="cannot be built"):
        build_request(user=member, recipe=recipe)
    response = api_for(member).post(f"/api/recipes/{recipe.pk}/build/")
    assert response.status_code == 400 and "cannot be built" in response.content.decode()
    assert not Build.objects.exists()


def test_a_recipe_marked_unbuildable_says_why(recipe, member):  # noqa: F811
    Recipe.objects.filter(pk=recipe.pk).update(unbuildable_reason="This recipe cannot be built: the name is invalid.")
    recipe.refresh_from_db()
    with pytest.raises(CompositionError, match="the name is invalid"):
        build_request(user=member, recipe=recipe)
    recipe.save()  # a stored row can still be saved (e.g. its runtime settings) without a rename
    assert not Build.objects.exists()


def test_the_migration_marks_rows_with_invalid_names_and_renames_nothing(recipe, team, busybox):  # noqa: F811
    legacy = Recipe.objects.create(team=team, name="legacy-ok", base=busybox)
    Recipe.objects.filter(pk=legacy.pk).update(name="Legacy_API")
    Team.objects.filter(pk=team.pk).update(slug="Pay_Ments")
    migration = importlib.import_module("builds.migrations.0010_registry_names")
    migration.mark_invalid_names(django_apps, None)
    marked = {r.name: r.unbuildable_reason for r in Recipe.objects.all()}
    assert set(marked) == {"pay-api", "Legacy_API"}, "nothing renamed or deleted"
    assert "team slug 'Pay_Ments'" in marked["pay-api"] and "image name 'Legacy_API'" in marked["Legacy_API"]


def test_the_pipeline_never_pushes_to_a_path_spelled_from_an_invalid_name(build):  # noqa: F811
    from builds.errors import StepFailed
    from builds.runner.pipeline import step_push

    Recipe.objects.filter(pk=build.recipe_id).update(name="../../published/search/pay-api")
    build.refresh_from_db()
    with pytest.raises(StepFailed) as failed:
        step_push(build, log=None)
    assert failed.value.code == "build:user:invalid-name" and "Nothing was pushed" in failed.value.message


class _NoRegistry:
    def __getattr__(self, name):
        raise AssertionError("the gate reached the registry")


@pytest.fixture
def pushed(build, monkeypatch):  # noqa: F811
    """A pushed build with a passing verdict; any registry call fails the test."""
    from compliance.models import Verdict

    Build.objects.filter(pk=build.pk).update(digest="sha256:" + "9" * 64, quarantine_repository="quarantine/payments/pay-api",
                                             quarantine_tag=f"build-{build.pk}", status=Build.Status.SUCCEEDED)
    Verdict.objects.create(build=build, passed=True, results=[], database_version=0, policy_version=Verdict.POLICY_VERSION)
    monkeypatch.setattr("compliance.gate.registry_client", lambda: _NoRegistry())
    monkeypatch.setattr("compliance.gate.verdict_make_current", lambda build: None)
    build.refresh_from_db()
    return build


def test_the_gate_refuses_a_target_outside_the_builds_own_team(pushed, member):
    Recipe.objects.filter(pk=pushed.recipe_id).update(name="../../published/search/pay-api")
    pushed.refresh_from_db()
    with pytest.raises(GateClosed, match="Nothing was published"):
        image_publish(build=pushed, actor=member)


def test_the_gate_refuses_a_source_outside_the_teams_quarantine(pushed, member):
    Build.objects.filter(pk=pushed.pk).update(quarantine_repository="quarantine/search/pay-api")
    pushed.refresh_from_db()
    with pytest.raises(GateClosed, match="not in its team's quarantine repository"):
        image_publish(build=pushed, actor=member)
    assert not Build.objects.get(pk=pushed.pk).published_reference
