"""A team member composing a recipe with a deprecated component version or base is warned, naming
the replacement and the sunset date, on the builder page (its preview) and in the API; a warning,
not an error: the recipe is saved and builds until the version or base is retired."""
import datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from builds.models import Recipe
from catalog.models import BaseImage, ComponentVersion
from curation.lifecycle import base_transition, version_transition
from portal.models import GlobalRole
from tests.factories import UserFactory, api_token_for, with_role

pytestmark = pytest.mark.django_db
SUNSET = datetime.date(2099, 1, 31)
VERSION_WARNING = "Non-root runtime user 1 is deprecated: use 2 instead; sunset 2099-01-31"
BASE_WARNING = "Base image BusyBox is deprecated: use BusyBox 1.36 instead; sunset 2099-01-31"


@pytest.fixture
def deprecated(db, busybox, runtime_user):
    """Version 1 of runtime-user and the busybox base, each deprecated for a published successor."""
    admin = with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    version_two = ComponentVersion.objects.create(
        component=runtime_user.component, version="2", os_families=["busybox"], fragment="RUN true",
        final_fragment="USER {{ uid }}", parameters=runtime_user.parameters)
    newer_base = BaseImage.objects.create(slug="busybox-136", name="BusyBox 1.36", repository="base/busybox", tag="1.36",
                                          digest="sha256:" + "3" * 64, os_family="busybox", approved=True)
    version_transition(user=admin, version=runtime_user, to="deprecated", replacement=version_two, sunset_date=SUNSET)
    base_transition(user=admin, base=busybox, to="deprecated", replacement=newer_base, sunset_date=SUNSET)
    return version_two, newer_base


def _form(team, **fields):
    return {"team": team.slug, "name": "pay-api", "base": "busybox", "component": "runtime-user",
            "version-runtime-user": "1", "param-runtime-user-uid": "10001", **fields}


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def test_the_builder_preview_warns_of_a_deprecated_version_and_base(client, member, team, deprecated):
    client.force_login(member)
    preview = _text(client.post(reverse("recipe-preview"), _form(team)))
    assert VERSION_WARNING in preview and BASE_WARNING in preview
    assert "The recipe cannot be composed" not in preview, "a warning, not an error"
    assert "FROM " in preview, "the Dockerfile is still shown"


def test_the_builder_page_keeps_a_deprecated_choice_and_offers_the_replacement(client, member, team, recipe, deprecated):
    """Editing a recipe on a deprecated base and version shows both chosen, with the warnings; the
    version's select offers the published one to move to."""
    client.force_login(member)
    page = _text(client.get(reverse("recipe-edit", args=[recipe.pk])))
    assert VERSION_WARNING in page and BASE_WARNING in page
    assert 'name="base" value="busybox" checked' in page and "! Deprecated" in page
    assert '<option value="2" >2</option>' in page and '<option value="1" selected>1 (deprecated)</option>' in page


def test_a_recipe_with_a_deprecated_choice_is_saved_from_the_page(client, member, team, runtime_user, deprecated):
    client.force_login(member)
    response = client.post(reverse("recipe-new"), _form(team, action="save"))
    assert response.status_code == 302, _text(response)[:2000]
    recipe = Recipe.objects.get(name="pay-api")
    assert recipe.base.slug == "busybox" and list(recipe.choices.values_list("version", flat=True)) == [runtime_user.pk]


def test_the_builder_preview_has_no_warning_for_published_choices(client, member, team, deprecated):
    client.force_login(member)
    preview = _text(client.post(reverse("recipe-preview"), _form(team, base="busybox-136", **{"version-runtime-user": "2"})))
    assert "deprecated" not in preview.lower()


def test_the_api_answers_a_recipe_with_its_deprecation_warnings(member, team, deprecated):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(member)}")
    body = {"team": team.slug, "name": "pay-api", "base": "busybox",
            "components": [{"component": "runtime-user", "version": "1", "values": {"uid": "10001"}}]}
    response = client.post("/api/recipes/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == [
        {"about": "base", "slug": "busybox", "version": "", "lifecycle": "deprecated", "replacement": "busybox-136",
         "sunset_date": "2099-01-31", "message": BASE_WARNING + ", after which it may be retired and no longer build."},
        {"about": "component", "slug": "runtime-user", "version": "1", "lifecycle": "deprecated", "replacement": "2",
         "sunset_date": "2099-01-31", "message": VERSION_WARNING + ", after which it may be retired and no longer build."}]
    current = client.post("/api/recipes/", {**body, "name": "pay-web", "base": "busybox-136",
                                            "components": [{"component": "runtime-user", "values": {"uid": "10001"}}]},
                          format="json")
    assert current.status_code == 201 and current.json()["warnings"] == []
