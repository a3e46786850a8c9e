"""The Rebuilds pages and API: platform admins plan (impact and dry run), confirm, run, follow a
batch and retry its failures; members and reviewers get 403 at every door."""
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from builds.models import Build
from builds.recipes.services import recipe_save
from catalog.models import ComponentVersion
from curation.models import RebuildBatch, RebuildItem
from curation.rebuild_plans import rebuild_run, rebuild_subject
from portal.models import GlobalRole
from tests.factories import UserFactory, api_token_for, with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


@pytest.fixture
def recipes(member, team, busybox, runtime_user):
    return [recipe_save(user=member, team=team, name=name, base=busybox, choices=[(runtime_user, {"uid": uid})])
            for name, uid in (("pay-api", "2000"), ("pay-web", "10001"))]


@pytest.fixture
def stricter(runtime_user):
    """Version 2 accepts uids up to 5000 only: pay-web (10001) no longer composes with it."""
    return ComponentVersion.objects.create(
        component=runtime_user.component, version="2", os_families=["busybox"], fragment="RUN true", final_fragment="USER {{ uid }}",
        parameters=[{"name": "uid", "type": "integer", "default": "1001", "min": 1000, "max": 5000}])


def _api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


def test_the_plan_page_shows_the_impact_and_dry_run_then_runs_after_a_confirmation(client, admin, recipes, stricter):
    client.force_login(admin)
    page = client.get(reverse("rebuild-new"), {"subject": "component:runtime-user", "upgrade": "1", "mode": "all"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Impact: component Non-root runtime user (move to 2)" in text
    assert "✓ 1 would build" in text and "✗ 1 would fail" in text and "Some parameters are not valid." in text
    assert "Run rebuild…" in text and not RebuildBatch.objects.exists()

    form = {"subject": "component:runtime-user", "upgrade": "1", "mode": "all"}
    confirming = client.post(reverse("rebuild-new"), form)
    assert "Yes, run the rebuild" in confirming.content.decode() and not RebuildBatch.objects.exists()

    done = client.post(reverse("rebuild-new"), {**form, "confirm": "1"})
    batch = RebuildBatch.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("rebuild-detail", args=[batch.pk])
    detail = client.get(done["Location"]).content.decode()
    assert "Rebuild #%d: component Non-root runtime user (moved to 2)" % batch.pk in detail
    assert "Requested: <strong>1</strong>" in detail and "Failed to compose: <strong>1</strong>" in detail
    assert 'hx-trigger="every 2s' in detail  # a build is still queued: the page polls
    failed = batch.items.get(recipe__name="pay-web")
    assert reverse("rebuild-item-retry", args=[failed.pk]) in detail
    assert reverse("rebuild-detail", args=[batch.pk]) in client.get(reverse("rebuild-list")).content.decode()


def test_the_progress_fragment_stops_polling_once_nothing_moves(client, admin, recipes):
    batch = rebuild_run(user=admin, subject=rebuild_subject(base="busybox"))
    client.force_login(admin)
    assert "hx-trigger" in client.get(reverse("rebuild-progress", args=[batch.pk])).content.decode()
    Build.objects.filter(rebuild_items__batch=batch).update(status=Build.Status.SUCCEEDED, published_reference="r/x:1")
    fragment = client.get(reverse("rebuild-progress", args=[batch.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in fragment and "Published: <strong>2</strong>" in fragment
    assert f"Rebuild {batch.pk} finished." in fragment


def test_retry_on_the_page_requests_a_new_build(client, admin, recipes):
    batch = rebuild_run(user=admin, subject=rebuild_subject(base="busybox"))
    item = batch.items.first()
    Build.objects.filter(pk=item.build_id).update(status=Build.Status.FAILED)
    client.force_login(admin)
    response = client.post(reverse("rebuild-item-retry", args=[item.pk]), follow=True)
    item.refresh_from_db()
    assert item.attempts == 2 and item.status == RebuildItem.Status.REQUESTED
    assert f"build #{item.build_id} requested" in response.content.decode()


def test_a_bad_subject_gets_a_clear_error(client, admin):
    client.force_login(admin)
    response = client.get(reverse("rebuild-new"), {"subject": "component:nope"})
    assert response.status_code == 400 and "There is no component nope." in response.content.decode()


@pytest.mark.parametrize("who", ["member", "reviewer"])
def test_pages_are_for_platform_admins_only(client, admin, member, reviewer, recipes, who):
    batch = rebuild_run(user=admin, subject=rebuild_subject(base="busybox"))
    item = batch.items.first()
    Build.objects.filter(pk=item.build_id).update(status=Build.Status.FAILED)
    client.force_login({"member": member, "reviewer": reviewer}[who])
    for response in (client.get(reverse("rebuild-list")), client.get(reverse("rebuild-new"), {"subject": "base:busybox"}),
                     client.post(reverse("rebuild-new"), {"subject": "base:busybox", "confirm": "1"}),
                     client.get(reverse("rebuild-detail", args=[batch.pk])),
                     client.get(reverse("rebuild-progress", args=[batch.pk])),
                     client.post(reverse("rebuild-item-retry", args=[item.pk]))):
        assert response.status_code == 403 and "platform admins" in response.content.decode()
    assert RebuildBatch.objects.count() == 1 and RebuildItem.objects.get(pk=item.pk).attempts == 1


def test_the_api_plans_runs_reads_and_retries(admin, recipes, stricter):
    api = _api(admin)
    body = {"component": "runtime-user", "upgrade": True}
    plan = api.post("/api/rebuilds/plan/", body, format="json")
    assert plan.status_code == 200
    assert [(r["recipe_name"], r["dry_run"]) for r in plan.json()["recipes"]] == [("pay-api", "would build"), ("pay-web", "would fail")]
    assert not RebuildBatch.objects.exists()

    run = api.post("/api/rebuilds/", body, format="json")
    assert run.status_code == 201
    data = run.json()
    assert data["target_version"] == "2" and data["counts"]["requested"] == 1 and data["counts"]["compose-failed"] == 1
    failed = next(i for i in data["items"] if i["status"] == "compose-failed")
    assert failed["retryable"] and failed["build"] is None

    read = api.get(f"/api/rebuilds/{data['id']}/").json()
    assert [i["recipe_name"] for i in read["items"]] == ["pay-api", "pay-web"] and read["settled"] is False
    again = api.post(f"/api/rebuild-items/{failed['id']}/retry/")
    assert again.status_code == 200 and again.json()["status"] == "compose-failed" and again.json()["attempts"] == 2
    refused = api.post(f"/api/rebuild-items/{data['items'][0]['id']}/retry/")
    assert refused.status_code == 400 and "only a recipe that failed" in refused.json()["detail"]
    assert api.post("/api/rebuilds/plan/", {"base": "busybox", "component": "runtime-user"}, format="json").status_code == 400


@pytest.mark.parametrize("who", ["member", "reviewer"])
def test_the_api_is_for_platform_admins_only(admin, member, reviewer, recipes, who):
    batch = rebuild_run(user=admin, subject=rebuild_subject(base="busybox"))
    item = batch.items.first()
    api = _api({"member": member, "reviewer": reviewer}[who])
    for response in (api.get("/api/rebuilds/"), api.get(f"/api/rebuilds/{batch.pk}/"),
                     api.post("/api/rebuilds/plan/", {"base": "busybox"}, format="json"),
                     api.post("/api/rebuilds/", {"base": "busybox"}, format="json"),
                     api.post(f"/api/rebuild-items/{item.pk}/retry/")):
        assert response.status_code == 403 and "platform admins" in response.json()["detail"]
    assert RebuildBatch.objects.count() == 1


def test_the_plan_and_a_batch_export_as_csv_for_admins_only(client, admin, member, recipes, stricter):
    import csv
    import io

    def rows(response):
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(response.content.decode())))

    client.force_login(admin)
    query = {"subject": "component:runtime-user", "upgrade": "1", "mode": "all"}
    page = client.get(reverse("rebuild-new"), query).content.decode()
    assert 'id="plan-csv"' in page and "csrfmiddlewaretoken" not in page.split('id="plan-csv"')[1].split(">")[0]
    plan = rows(client.get(reverse("rebuild-new"), {**query, "format": "csv"}))
    assert [(r["recipe"], r["from_version"], r["to_version"], r["dry_run"]) for r in plan] == [
        ("pay-api", "1", "2", "would build"), ("pay-web", "1", "2", "would fail")]
    assert "Some parameters are not valid." in plan[1]["detail"]
    assert not RebuildBatch.objects.exists(), "exporting the plan runs nothing"

    batch = rebuild_run(user=admin, subject=rebuild_subject(component="runtime-user", upgrade=True))
    exported = rows(client.get(reverse("rebuild-detail", args=[batch.pk]), {"format": "csv"}))
    assert {(r["recipe"], r["status"]) for r in exported} == {("pay-api", "requested"), ("pay-web", "compose-failed")}

    client.force_login(member)
    assert client.get(reverse("rebuild-detail", args=[batch.pk]), {"format": "csv"}).status_code == 403
    assert client.get(reverse("rebuild-new"), {**query, "format": "csv"}).status_code == 403


def test_a_csv_cell_a_spreadsheet_would_run_is_written_as_text():
    from portal.csv_export import csv_filename, csv_response

    body = csv_response('x"; evil=.csv', ["a", "b"], [["=HYPERLINK(\"http://x\")", 3], ["@SUM(1)", -1], ["plain", "-x"]])
    assert body["Content-Disposition"] == 'attachment; filename="x-evil.csv"'
    assert body.content.decode().splitlines()[1:] == ['"\'=HYPERLINK(""http://x"")",3', "'@SUM(1),-1", "plain,'-x"]
    assert csv_filename("../../CVE-2024-1/") == "CVE-2024-1.csv"
