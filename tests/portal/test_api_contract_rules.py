"""The API's shared rules, door by door: bounded pages, permission before validation, uploads as
files, JSON 404s, and a schema that lists every answer (tests/test_api_contract.py fuzzes them all)."""
import io
import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from builds.models import Recipe
from builds.recipes.services import recipe_save
from compliance.models import PolicyRule
from portal.models import GlobalRole
from tests.factories import UserFactory, api_token_for, with_role

pytestmark = pytest.mark.django_db


def api_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


@pytest.fixture
def admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


@pytest.fixture
def recipes(team, member, busybox, runtime_user):
    return [recipe_save(user=member, team=team, name=f"svc-{n}", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
            for n in range(5)]


# -- pages of lists ------------------------------------------------------------------------------

@override_settings(API_MAX_PAGE_SIZE=3)
def test_a_limit_past_the_maximum_is_read_as_the_maximum_with_a_link_to_the_rest(member, recipes):
    for limit in ("4", "9223372036854775808", "9" * 40):  # the last two overflowed PostgreSQL's bigint: a 500
        page = api_for(member).get(f"/api/recipes/?limit={limit}")
        assert page.status_code == 200, page.content
        body = page.json()
        assert (body["count"], len(body["results"])) == (5, 3)
        assert "limit=3" in body["next"] and "offset=3" in body["next"]


@pytest.mark.parametrize("query, name", [("limit=abc", "limit"), ("limit=0", "limit"), ("limit=-1", "limit"),
                                         ("limit=1.5", "limit"), ("offset=-3", "offset"), ("offset=x", "offset")])
def test_a_limit_or_offset_that_is_not_a_whole_number_in_range_is_refused_by_name(member, recipes, query, name):
    response = api_for(member).get(f"/api/builds/?{query}")
    assert response.status_code == 400
    assert name in response.json()


def test_an_offset_past_the_end_is_an_empty_page(member, recipes):
    body = api_for(member).get("/api/recipes/?offset=9223372036854775808").json()
    assert (body["count"], body["results"], body["next"]) == (5, [], None)


def test_the_schema_documents_the_bounds(client):
    parameters = client.get("/api/schema/?format=json").json()["paths"]["/api/recipes/"]["get"]["parameters"]
    limit = next(p for p in parameters if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and "500" in limit["description"]


# -- permission before validation ----------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("post", "/api/policy/rules/"), ("put", "/api/policy/rules/{rule}/"),
                                          ("patch", "/api/policy/rules/{rule}/")])
def test_only_admins_write_rules_and_others_learn_nothing_about_their_body(member, reviewer, admin, method, path):
    rule = PolicyRule.objects.get(team=None, kind="non-root-user")  # seeded by a migration
    before = list(PolicyRule.objects.values_list("pk", "kind", "action", "params", "enabled"))
    url = path.format(rule=rule.pk)
    bad = {"kind": "no-such-kind", "action": "sometimes", "params": []}
    for user in (member, reviewer):
        response = getattr(api_for(user), method)(url, bad)
        assert response.status_code == 403, (user, response.content)
        assert "platform admins" in response.json()["detail"]
    assert getattr(api_for(admin), method)(url, bad).status_code == 400
    assert list(PolicyRule.objects.values_list("pk", "kind", "action", "params", "enabled")) == before


@pytest.mark.parametrize("action, method", [("runtime", "put"), ("promote-script", "post"), ("build", "post"),
                                            ("build-settings", "put")])
def test_a_reviewer_may_read_a_recipe_but_changing_it_is_403_whatever_the_body(recipe, reviewer, member, action, method):
    bad = {"privileged": "maybe", "cap_add": 5, "kind": "none", "name": "", "no_cache": "x", "build_output": []}
    response = getattr(api_for(reviewer), method)(f"/api/recipes/{recipe.pk}/{action}/", bad)
    assert response.status_code == 403, response.content
    assert getattr(api_for(member), method)(f"/api/recipes/{recipe.pk}/{action}/", bad).status_code == 400


def test_a_reviewer_updating_a_dockerfile_recipe_is_403_before_the_body_is_read(member, reviewer, team, busybox):
    from builds.dockerfile.services import recipe_save_dockerfile
    own = recipe_save_dockerfile(user=member, team=team, name="own", dockerfile="FROM base/busybox:1.35\n", build_args={},
                                 context=None)
    assert api_for(reviewer).put(f"/api/dockerfile-recipes/{own.pk}/", {"dockerfile": 5}).status_code == 403
    assert api_for(member).put(f"/api/dockerfile-recipes/{own.pk}/", {"dockerfile": 5}).status_code == 400


def test_members_deciding_exceptions_get_403_whatever_the_body(member, recipe, reviewer):
    from django.utils import timezone

    from compliance.exceptions.services import exception_request
    exception = exception_request(user=member, scope="recipe", recipe=recipe, target_kind="vulnerability", target="CVE-2024-1",
                                  reason="fix_pending", justification="Upstream fix lands next week; internal service.",
                                  expires_at=timezone.now() + timezone.timedelta(days=5))
    for action in ("approve", "deny", "revoke"):
        response = api_for(member).post(f"/api/exceptions/{exception.pk}/{action}/", {"expires_at": "not a date"})
        assert response.status_code == 403, (action, response.content)
    assert api_for(reviewer).post(f"/api/exceptions/{exception.pk}/approve/", {"expires_at": "not a date"}).status_code == 400


def test_only_admins_reject_base_proposals_whatever_the_body(member, build, admin):
    from catalog.models import BaseImage, ProposalState
    BaseImage.objects.create(slug="team-base", name="Team base", repository="published/payments/pay-api", tag="1",
                             digest="sha256:" + "7" * 64, approved=False, proposal_state=ProposalState.PENDING, source_build=build)
    assert api_for(member).post("/api/catalog/base-proposals/team-base/reject/", {"reason": ["x"]}).status_code == 403
    assert api_for(admin).post("/api/catalog/base-proposals/team-base/reject/", {"reason": ["x"]}).status_code == 400


# -- bodies: JSON, and multipart only where a file travels ---------------------------------------

def test_a_form_encoded_body_is_refused_where_no_file_travels(member, recipe):
    response = api_for(member).put(f"/api/recipes/{recipe.pk}/runtime/", "privileged=false", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_a_recipe_with_its_artifact_comes_as_multipart_with_the_components_as_json(member, busybox, runtime_user):
    artifact = io.BytesIO(b"#!/bin/sh\necho hello\n")
    artifact.name = "run.sh"
    response = api_for(member).post("/api/recipes/", {
        "team": "payments", "name": "with-artifact", "base": "busybox",
        "components": json.dumps([{"component": "runtime-user", "values": {"uid": "10003"}}]), "artifact": artifact},
        format="multipart")
    assert response.status_code == 201, response.content
    recipe = Recipe.objects.get(name="with-artifact")
    assert recipe.artifact_name == "run.sh" and recipe.choices.get().values == {"uid": "10003"}
    broken = api_for(member).post("/api/recipes/", {"team": "payments", "name": "x", "base": "busybox", "components": "[{"},
                                  format="multipart")
    assert broken.status_code == 400 and "JSON list" in str(broken.json()["components"])


def test_the_schema_documents_uploads_as_files_in_multipart_bodies_only(client):
    document = client.get("/api/schema/?format=json").json()
    schemas = document["components"]["schemas"]

    def body(path, method):
        content = document["paths"][path][method]["requestBody"]["content"]
        return {media: schemas[c["schema"]["$ref"].rsplit("/", 1)[1]]["properties"] for media, c in content.items()}

    for path, method, field in [("/api/recipes/", "post", "artifact"), ("/api/dockerfile-recipes/", "post", "context"),
                                ("/api/dockerfile-recipes/{id}/", "put", "context"),
                                ("/api/builds/{build_id}/reports/", "post", "file")]:
        bodies = body(path, method)
        assert set(bodies) == {"application/json", "multipart/form-data"}, path
        assert bodies["multipart/form-data"][field] == {**bodies["multipart/form-data"][field], "type": "string", "format": "binary"}
        assert field not in bodies["application/json"], path


# -- shapes the schema states --------------------------------------------------------------------

def test_a_builds_reports_are_a_list_as_documented(client, member, build):
    assert api_for(member).get(f"/api/builds/{build.pk}/reports/").json() == []
    schema = client.get("/api/schema/?format=json").json()["paths"]["/api/builds/{build_id}/reports/"]["get"]
    assert schema["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"


def test_every_operation_documents_its_error_answers(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            if path != "/api/token/":
                assert "401" in codes, (method, path)
            if method in ("post", "put", "patch", "delete"):
                assert {"400"} <= codes and (path == "/api/token/" or "403" in codes), (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)


def test_an_unknown_api_url_answers_json(member):
    response = api_for(member).get("/api/builds/not-a-number/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_the_sbom_comes_in_each_documented_format_and_an_unknown_one_is_refused(member, build):
    from compliance.models import ImageScan
    digest = "sha256:" + "5" * 64
    ImageScan.objects.create(build=build, digest=digest, status="done",
                             facts={"repository": "quarantine/payments/pay-api", "digest": digest})
    api = api_for(member)
    assert json.loads(api.get(f"/api/builds/{build.pk}/sbom/").content)["bomFormat"] == "CycloneDX"
    assert json.loads(api.get(f"/api/builds/{build.pk}/sbom/?format=cyclonedx").content)["bomFormat"] == "CycloneDX"
    spdx = api.get(f"/api/builds/{build.pk}/sbom/?format=spdx")
    assert spdx.status_code == 200 and spdx["Content-Type"] == "application/spdx+json"
    for wrong in ("xml", ""):
        refused = api.get(f"/api/builds/{build.pk}/sbom/?format={wrong}")
        assert refused.status_code == 400 and "cyclonedx" in refused.json()["format"], wrong
