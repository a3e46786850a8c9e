"""Recipes say how their image runs (privileged, extra capabilities): set in the form and the API,
validated against the Linux capability names, shown on the recipe page, recorded per build."""
import pytest
from django.urls import reverse

from builds.models import Recipe
from builds.services import build_request
from compliance.models import PolicyRule
from portal.models import AuditEvent
from tests.builds.test_api import api_for

pytestmark = pytest.mark.django_db


def test_the_api_creates_a_recipe_with_runtime_settings(member, busybox, runtime_user):  # noqa: F811
    response = api_for(member).post("/api/recipes/", {"team": "payments", "name": "svc", "base": "busybox",
                                                      "privileged": True, "cap_add": ["cap_net_admin", "CHOWN"]}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["privileged"], response.json()["cap_add"]) == (True, ["CHOWN", "NET_ADMIN"])


def test_the_api_refuses_unknown_capabilities_with_a_field_error(member, busybox):  # noqa: F811
    response = api_for(member).post("/api/recipes/", {"team": "payments", "name": "svc", "base": "busybox",
                                                      "cap_add": ["NET_ADMIN", "ROOTKIT"]}, format="json")
    assert response.status_code == 400
    assert "ROOTKIT" in response.json()["errors"]["cap_add"]
    assert not Recipe.objects.exists()


def test_the_api_changes_runtime_settings_with_the_pages_permissions(recipe, member, outsider, reviewer):  # noqa: F811
    url = f"/api/recipes/{recipe.pk}/runtime/"
    body = {"privileged": False, "cap_add": ["NET_BIND_SERVICE"]}
    assert api_for(outsider).put(url, body, format="json").status_code == 404
    assert api_for(reviewer).put(url, body, format="json").status_code == 403
    assert api_for(member).put(url, {"privileged": "maybe", "cap_add": []}, format="json").status_code == 400
    response = api_for(member).put(url, body, format="json")
    assert response.status_code == 200 and response.json()["cap_add"] == ["NET_BIND_SERVICE"]
    assert AuditEvent.objects.get(action="recipe.runtime_changed").data == body


def test_a_build_records_the_runtime_settings_of_its_time(recipe, member):  # noqa: F811
    recipe.privileged, recipe.cap_add = True, ["SYS_TIME"]
    recipe.save()
    first = build_request(user=member, recipe=recipe)
    recipe.privileged, recipe.cap_add = False, []
    recipe.save()
    second = build_request(user=member, recipe=recipe)
    assert first.snapshot["runtime"] == {"privileged": True, "cap_add": ["SYS_TIME"]}
    assert second.snapshot["runtime"] == {"privileged": False, "cap_add": []}
    assert first.composition_sha256 == second.composition_sha256, "runtime settings do not change the image"


def form(recipe, **extra):  # noqa: F811
    return {"team": "payments", "name": recipe.name, "base": "busybox", "component": "runtime-user",
            "param-runtime-user-uid": "10001", "action": "save", **extra}


def test_the_form_saves_runtime_settings_and_the_page_shows_them(client, recipe, member):  # noqa: F811
    client.force_login(member)
    response = client.post(reverse("recipe-edit", args=[recipe.pk]), form(recipe, privileged="1", cap_add="net_raw, chown"))
    assert response.status_code == 302, response.content.decode()[:2000]
    recipe.refresh_from_db()
    assert (recipe.privileged, recipe.cap_add) == (True, ["CHOWN", "NET_RAW"])
    page = client.get(reverse("recipe-detail", args=[recipe.pk])).content.decode()
    assert "privileged" in page and "NET_RAW" in page and f"?team={recipe.team.slug}" in page
    edit = client.get(reverse("recipe-edit", args=[recipe.pk])).content.decode()
    assert 'value="CHOWN, NET_RAW"' in edit and 'name="privileged" value="1" checked' in edit


def test_the_form_shows_an_unknown_capability_as_a_field_error(client, recipe, member):  # noqa: F811
    client.force_login(member)
    response = client.post(reverse("recipe-edit", args=[recipe.pk]), form(recipe, cap_add="NET_ADMIN SUPERUSER"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page and 'href="#field-cap_add"' in page and "SUPERUSER" in page
    recipe.refresh_from_db()
    assert recipe.cap_add == []


def test_the_preview_says_what_the_runtime_rule_will_decide(client, recipe, member):  # noqa: F811
    PolicyRule.objects.create(kind="runtime-privileges", params={"allow_privileged": False, "allowed_capabilities": []})
    client.force_login(member)
    page = client.post(reverse("recipe-preview"), form(recipe, privileged="1")).content.decode()
    assert "No privileged mode or extra capabilities" in page and "runs privileged" in page and "✗ Fail" in page


def test_the_preview_lists_only_the_rules_the_team_faces(client, recipe, member, team):  # noqa: F811
    PolicyRule.objects.create(team=team, kind="non-root-user", enabled=False)
    PolicyRule.objects.create(team=team, kind="approved-base", action="warn")
    client.force_login(member)
    page = client.post(reverse("recipe-preview"), form(recipe)).content.decode()
    assert "Non-root user" not in page and "Approved base image" in page and "No secrets in ENV" in page
