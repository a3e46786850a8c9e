"""The API's doors to curation.entries: POST /api/catalog/components/, POST /api/catalog/bases/ and
POST /api/catalog/bases/<slug>/repin/, platform admins only (403 before the body is read), refusals
by field (400), while the collections stay readable by everyone signed in."""
import pytest
from rest_framework.test import APIClient

from adapters.factory import registry_client
from catalog.models import BaseImage, Component, Lifecycle, ProposalState
from portal.models import AuditEvent
from tests.factories import api_token_for

pytestmark = pytest.mark.django_db
BASE = {"slug": "busybox-new", "name": "BusyBox again", "repository": "base/busybox", "tag": "1.35", "os_family": "busybox"}
COMPONENT = {"slug": "htop", "name": "htop", "kind": "option", "order_weight": 30}


def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


@pytest.mark.parametrize("who", ["member", "reviewer", "outsider"])
def test_only_platform_admins_write_and_everyone_reads(request, busybox, runtime_user, who):
    caller = api(request.getfixturevalue(who))
    for url, body in (("/api/catalog/components/", COMPONENT), ("/api/catalog/bases/", BASE),
                      ("/api/catalog/bases/busybox/repin/", {})):
        response = caller.post(url, body, format="json")
        assert response.status_code == 403 and "Only platform admins curate the catalog" in response.json()["detail"]
        assert caller.post(url, {"nonsense": 1}, format="json").status_code == 403, "refused before the body is read"
    assert [b["slug"] for b in caller.get("/api/catalog/bases/").json()["results"]] == ["busybox"]
    assert caller.get("/api/catalog/components/runtime-user/").status_code == 200
    assert Component.objects.count() == 1 and BaseImage.objects.get().digest == busybox.digest
    assert not AuditEvent.objects.filter(action__startswith="catalog.").exists()


def test_an_admin_creates_a_component(admin):
    response = api(admin).post("/api/catalog/components/", {**COMPONENT, "description": "A viewer"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"slug": "htop", "name": "htop", "kind": "option", "description": "A viewer", "versions": []}
    assert Component.objects.get(slug="htop").order_weight == 30
    assert AuditEvent.objects.filter(action="catalog.component.created", actor=admin).exists()


def test_a_refused_component_names_its_fields(admin, runtime_user):
    response = api(admin).post("/api/catalog/components/", {**COMPONENT, "slug": "runtime-user"}, format="json")
    assert response.status_code == 400 and "There is already a component runtime-user" in response.json()["slug"][0]
    response = api(admin).post("/api/catalog/components/", {**COMPONENT, "slug": "new"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["slug"]
    response = api(admin).post("/api/catalog/components/", {**COMPONENT, "order_weight": 10001}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["order_weight"]
    assert Component.objects.count() == 1


def test_an_admin_adds_a_base_as_a_draft_then_publishes_it(services, admin, member):
    response = api(admin).post("/api/catalog/bases/", {**BASE, "build_base": True}, format="json")
    assert response.status_code == 201, response.content
    digest = registry_client("scanner").manifest("base/busybox", "1.35")[1]
    body = response.json()
    assert (body["digest"], body["lifecycle"], body["approved"]) == (digest, "draft", True)
    assert BaseImage.objects.get(slug="busybox-new").build_base
    assert api(member).get("/api/catalog/bases/busybox-new/").status_code == 404, "a draft is for admins"
    moved = api(admin).post("/api/catalog/bases/busybox-new/lifecycle/", {"to": "published"}, format="json")
    assert moved.status_code == 200 and moved.json()["lifecycle"] == "published"
    assert api(member).get("/api/catalog/bases/busybox-new/").status_code == 200


@pytest.mark.parametrize("changes, field", [
    ({"repository": "published/payments/pay-api"}, "repository"), ({"repository": "quarantine/payments/x"}, "repository"),
    ({"repository": "base/../published/x"}, "repository"), ({"tag": "9.99"}, "tag"), ({"slug": "busybox"}, "slug"),
])
def test_a_refused_base_names_its_field_and_saves_nothing(services, admin, busybox, changes, field):
    response = api(admin).post("/api/catalog/bases/", {**BASE, **changes}, format="json")
    assert response.status_code == 400 and list(response.json()) == [field], response.content
    assert BaseImage.objects.count() == 1


def test_an_admin_re_pins_a_base_and_a_proposal_is_refused(services, admin, busybox):
    response = api(admin).post("/api/catalog/bases/busybox/repin/", format="json")
    digest = registry_client("scanner").manifest("base/busybox", "1.35")[1]
    assert response.status_code == 200 and response.json()["digest"] == digest
    assert AuditEvent.objects.get(action="catalog.baseimage.pinned").data == {"before": busybox.digest, "digest": digest}
    BaseImage.objects.filter(pk=busybox.pk).update(proposal_state=ProposalState.PENDING, approved=False, digest="sha256:" + "1" * 64)
    refused = api(admin).post("/api/catalog/bases/busybox/repin/", format="json")
    assert refused.status_code == 400 and "waiting for review" in refused.json()["base"][0]
    assert BaseImage.objects.get(pk=busybox.pk).digest == "sha256:" + "1" * 64
    assert api(admin).post("/api/catalog/bases/nothing/repin/", format="json").status_code == 404
    assert BaseImage.objects.get(pk=busybox.pk).lifecycle == Lifecycle.PUBLISHED
