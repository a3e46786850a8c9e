"""The REST API: same flow and the same permission checks as the pages."""
import pytest
from rest_framework.test import APIClient

from builds.models import Build, Recipe
from tests.factories import api_token_for

pytestmark = pytest.mark.django_db


def api_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


def test_it_requires_authentication():
    assert APIClient().get("/api/recipes/").status_code == 401


def test_it_creates_a_recipe_and_requests_a_build_with_a_token(member, busybox, runtime_user):
    api = api_for(member)
    response = api.post("/api/recipes/", {"team": "payments", "name": "svc", "base": "busybox",
                                          "components": [{"component": "runtime-user", "values": {"uid": "10002"}}]}, format="json")
    assert response.status_code == 201, response.content
    build = api.post(f"/api/recipes/{response.json()['id']}/build/")
    assert build.status_code == 201
    body = api.get(f"/api/builds/{build.json()['id']}/").json()
    assert body["status"] == "queued"
    assert "USER 10002" in body["dockerfile"]
    assert api.get(f"/api/builds/{build.json()['id']}/log/?after=-1").json()["chunks"] == []


def test_it_returns_field_errors_for_bad_parameters(member, busybox, runtime_user):
    response = api_for(member).post("/api/recipes/", {
        "team": "payments", "name": "svc", "base": "busybox",
        "components": [{"component": "runtime-user", "values": {"uid": "1; rm -rf /"}}]}, format="json")
    assert response.status_code == 400
    assert "runtime-user.uid" in response.json()["errors"]
    assert Recipe.objects.count() == 0


def test_it_hides_other_teams_recipes_and_builds(build, outsider, reviewer):  # noqa: F811
    outsider_api = api_for(outsider)
    assert outsider_api.get("/api/recipes/").json()["results"] == []
    assert outsider_api.get(f"/api/builds/{build.pk}/").status_code == 404
    assert outsider_api.post(f"/api/recipes/{build.recipe.pk}/build/").status_code == 404
    assert outsider_api.post("/api/recipes/", {"team": "payments", "name": "x", "base": "busybox"}, format="json").status_code == 403
    reviewer_api = api_for(reviewer)
    assert reviewer_api.get(f"/api/builds/{build.pk}/").status_code == 200
    assert reviewer_api.post(f"/api/recipes/{build.recipe.pk}/build/").status_code == 403
    assert reviewer_api.post(f"/api/builds/{build.pk}/publish/").status_code == 403
    assert Build.objects.count() == 1


def test_it_answers_409_when_the_gate_refuses(build, member):  # noqa: F811
    response = api_for(member).post(f"/api/builds/{build.pk}/publish/")
    assert response.status_code == 409
    assert "pushed" in response.json()["detail"]


def test_it_serves_an_openapi_schema_naming_the_flow(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ["/api/recipes/", "/api/recipes/{id}/build/", "/api/builds/{id}/", "/api/builds/{id}/log/",
                 "/api/builds/{id}/publish/", "/api/catalog/components/"]:
        assert path in paths, path
