"""The lifecycle of base images (curation.lifecycle, the versions' rules): each move, who may move,
the audit; at each door (the Catalog pages, the API, the Django admin read-only); and a retired or
draft base refused wherever a recipe is composed (the service, the builder page, the API, a build),
while a deprecated one still builds and its recipes say so."""
import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from builds.errors import CompositionError
from builds.models import Build, Recipe
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, Lifecycle, ProposalState
from curation.lifecycle import LifecycleError, base_transition
from portal.models import AuditEvent
from tests.factories import api_token_for

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 12, 2)
LATER = TODAY + datetime.timedelta(days=30)


def _move(admin, base, to, **kwargs):
    return base_transition(user=admin, base=base, to=to, today=TODAY, **kwargs)


def _retired(admin, base, replacement=None):
    _move(admin, base, Lifecycle.DEPRECATED, replacement=replacement, sunset_date=TODAY)
    return _move(admin, base, Lifecycle.RETIRED)


def _lifecycle(base) -> str:
    return BaseImage.objects.get(pk=base.pk).lifecycle


def _api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


# The rules of each move

def test_a_draft_base_is_published_then_deprecated_with_a_replacement_and_audited(admin, busybox, busybox_two):
    BaseImage.objects.filter(pk=busybox.pk).update(lifecycle=Lifecycle.DRAFT)
    assert _move(admin, busybox, Lifecycle.PUBLISHED).lifecycle == Lifecycle.PUBLISHED
    moved = _move(admin, busybox, Lifecycle.DEPRECATED, replacement=busybox_two, sunset_date=LATER)
    assert (moved.lifecycle, moved.replacement, moved.sunset_date) == (Lifecycle.DEPRECATED, busybox_two, LATER)
    event = AuditEvent.objects.get(action="catalog.base.deprecated")
    assert (event.actor, event.target_type, event.target_id) == (admin, "BaseImage", str(busybox.pk))
    assert event.data["replacement"] == "busybox-136" and event.data["sunset_date"] == LATER.isoformat()
    assert AuditEvent.objects.filter(action="catalog.base.published").count() == 1


def test_deprecating_a_base_needs_a_replacement_or_a_sunset_date(admin, busybox):
    with pytest.raises(LifecycleError, match="give a replacement base image, a sunset date, or both"):
        _move(admin, busybox, Lifecycle.DEPRECATED)
    assert _lifecycle(busybox) == Lifecycle.PUBLISHED


def test_the_replacement_must_be_another_base_teams_may_choose(admin, busybox, busybox_two):
    unapproved = BaseImage.objects.create(slug="raw", name="Raw", repository="base/raw", tag="1", digest="sha256:" + "5" * 64,
                                          os_family="busybox", approved=False)
    BaseImage.objects.filter(pk=busybox_two.pk).update(lifecycle=Lifecycle.DEPRECATED)
    for replacement, message in [(busybox, "cannot replace itself"), (unapproved, "not an approved, published base"),
                                 (BaseImage.objects.get(pk=busybox_two.pk), "not an approved, published base")]:
        with pytest.raises(LifecycleError, match=message):
            _move(admin, busybox, Lifecycle.DEPRECATED, replacement=replacement)
    assert _lifecycle(busybox) == Lifecycle.PUBLISHED


@pytest.mark.parametrize("start, to", [("published", "retired"), ("draft", "deprecated"), ("retired", "published"),
                                       ("published", "gone")])
def test_moves_outside_the_lifecycle_are_refused_for_bases(admin, busybox, start, to):
    BaseImage.objects.filter(pk=busybox.pk).update(lifecycle=start)
    with pytest.raises(LifecycleError):
        _move(admin, busybox, to, sunset_date=TODAY)
    assert _lifecycle(busybox) == start


def test_a_used_base_is_retired_only_after_its_sunset_date(admin, recipe, busybox, busybox_two):
    _move(admin, busybox, Lifecycle.DEPRECATED, replacement=busybox_two, sunset_date=TODAY + datetime.timedelta(days=1))
    with pytest.raises(LifecycleError, match=r"1 recipe\(s\) still use BusyBox .* has not passed"):
        _move(admin, busybox, Lifecycle.RETIRED)
    assert _lifecycle(busybox) == Lifecycle.DEPRECATED
    later = base_transition(user=admin, base=busybox, to=Lifecycle.RETIRED, today=TODAY + datetime.timedelta(days=1))
    assert later.lifecycle == Lifecycle.RETIRED


def test_a_base_without_a_sunset_date_is_retired_once_no_recipe_uses_it(admin, member, team, recipe, busybox, busybox_two,
                                                                         runtime_user):
    _move(admin, busybox, Lifecycle.DEPRECATED, replacement=busybox_two)
    with pytest.raises(LifecycleError, match="no sunset date"):
        _move(admin, busybox, Lifecycle.RETIRED)
    recipe_save(user=member, team=team, name=recipe.name, base=busybox_two, choices=[(runtime_user, {"uid": "10001"})],
                recipe=recipe)
    assert _move(admin, busybox, Lifecycle.RETIRED).lifecycle == Lifecycle.RETIRED


def test_a_base_used_only_as_a_build_stage_counts_as_used(admin, recipe, busybox, busybox_two):
    Recipe.objects.filter(pk=recipe.pk).update(base=busybox_two, build_base=busybox)
    _move(admin, busybox, Lifecycle.DEPRECATED, replacement=busybox_two)
    with pytest.raises(LifecycleError, match="still use"):
        _move(admin, busybox, Lifecycle.RETIRED)


def test_withdrawing_a_base_deprecation_clears_its_replacement_and_sunset(admin, busybox, busybox_two):
    _move(admin, busybox, Lifecycle.DEPRECATED, replacement=busybox_two, sunset_date=TODAY)
    again = _move(admin, busybox, Lifecycle.PUBLISHED)
    assert (again.lifecycle, again.replacement, again.sunset_date) == (Lifecycle.PUBLISHED, None, None)


def test_a_proposal_waiting_for_review_is_not_moved(admin, busybox):
    BaseImage.objects.filter(pk=busybox.pk).update(approved=False, proposal_state=ProposalState.PENDING)
    with pytest.raises(LifecycleError, match="approve or reject it first"):
        _move(admin, busybox, Lifecycle.DEPRECATED, sunset_date=TODAY)


def test_only_platform_admins_move_bases(member, reviewer, busybox):
    for user in (member, reviewer):
        with pytest.raises(PermissionDenied):
            base_transition(user=user, base=busybox, to=Lifecycle.DEPRECATED, sunset_date=LATER)
    assert _lifecycle(busybox) == Lifecycle.PUBLISHED
    assert not AuditEvent.objects.filter(action__startswith="catalog.base.").exists()


# A retired (or draft) base where recipes are composed; a deprecated one still builds

def test_the_service_refuses_a_retired_or_draft_base_with_what_to_do(admin, member, team, busybox, busybox_two, runtime_user):
    choices = [(runtime_user, {"uid": "10001"})]
    _retired(admin, busybox, replacement=busybox_two)
    with pytest.raises(CompositionError, match="BusyBox is retired and can no longer be built: edit the recipe to use BusyBox 1.36"):
        recipe_save(user=member, team=team, name="pay-old", base=busybox, choices=choices)
    BaseImage.objects.filter(pk=busybox_two.pk).update(lifecycle=Lifecycle.DRAFT)
    with pytest.raises(CompositionError, match="BusyBox 1.36 is not published yet"):
        recipe_save(user=member, team=team, name="pay-draft", base=busybox_two, choices=choices)
    assert not Recipe.objects.exists()


def test_a_recipe_on_a_base_retired_since_it_was_loaded_is_refused(admin, member, team, busybox, runtime_user):
    """The service reads the lifecycle as it is now, not as the caller's object last saw it."""
    stale = BaseImage.objects.get(pk=busybox.pk)
    _retired(admin, busybox)
    with pytest.raises(CompositionError, match="is retired"):
        recipe_save(user=member, team=team, name="pay-api", base=stale, choices=[(runtime_user, {"uid": "10001"})])


def test_a_recipe_on_a_retired_base_cannot_be_built_at_the_page_or_the_api(client, admin, member, recipe, busybox, busybox_two):
    _retired(admin, busybox, replacement=busybox_two)
    with pytest.raises(CompositionError, match="edit the recipe to use BusyBox 1.36"):
        build_request(user=member, recipe=recipe)
    client.force_login(member)
    page = client.post(reverse("recipe-build", args=[recipe.pk]), follow=True)
    assert "Cannot build: Base image BusyBox is retired" in page.content.decode()
    api = _api(member).post(f"/api/recipes/{recipe.pk}/build/", {}, format="json")
    assert api.status_code == 400 and "Base image BusyBox is retired" in api.json()["detail"]
    assert not Build.objects.exists()


def test_the_builder_page_refuses_a_retired_base_named_in_the_form(client, admin, member, team, busybox, runtime_user):
    _retired(admin, busybox)
    client.force_login(member)
    response = client.post(reverse("recipe-new"), {"team": team.slug, "name": "pay-old", "base": busybox.slug,
                                                   "component": "runtime-user", "param-runtime-user-uid": "10001",
                                                   "action": "save"})
    assert response.status_code == 400
    assert "Base image BusyBox is retired and can no longer be built" in response.content.decode()
    assert not Recipe.objects.exists()


def test_the_api_refuses_a_retired_base_and_does_not_know_a_draft(admin, member, team, busybox, busybox_two, runtime_user):
    _retired(admin, busybox)
    BaseImage.objects.filter(pk=busybox_two.pk).update(lifecycle=Lifecycle.DRAFT)
    body = {"team": team.slug, "name": "pay-api", "base": busybox.slug, "components": [{"component": "runtime-user"}]}
    retired = _api(member).post("/api/recipes/", body, format="json")
    assert retired.status_code == 400 and "is retired and can no longer be built" in retired.json()["detail"]
    draft = _api(member).post("/api/recipes/", {**body, "base": busybox_two.slug}, format="json")
    assert draft.status_code == 400 and "Not an approved base image" in str(draft.json())
    assert not Recipe.objects.exists()


def test_a_recipe_on_a_deprecated_base_still_builds_and_its_page_says_so(client, admin, member, recipe, busybox, busybox_two):
    _move(admin, busybox, Lifecycle.DEPRECATED, replacement=busybox_two, sunset_date=datetime.date(2099, 1, 31))
    assert build_request(user=member, recipe=recipe).pk
    client.force_login(member)
    text = " ".join(client.get(reverse("recipe-detail", args=[recipe.pk])).content.decode().split())
    assert "Base image BusyBox is <strong>deprecated</strong>, replaced by BusyBox 1.36; sunset" in text
    assert "2099-01-31" in text and "Edit the recipe to use BusyBox 1.36" in text
    home = client.get(reverse("home")).content.decode()
    assert "Base image BusyBox: deprecated" in home


def test_the_recipe_page_says_its_base_is_retired(client, admin, member, recipe, busybox, busybox_two):
    _retired(admin, busybox, replacement=busybox_two)
    client.force_login(member)
    text = " ".join(client.get(reverse("recipe-detail", args=[recipe.pk])).content.decode().split())
    assert "Base image BusyBox is <strong>retired</strong>: this recipe cannot be built until it moves to BusyBox 1.36." in text


# The Catalog pages

def test_the_base_page_offers_the_moves_and_a_confirmation_states_the_impact(client, admin, recipe, busybox, busybox_two):
    client.force_login(admin)
    page = client.get(reverse("catalog-base", args=["busybox"])).content.decode()
    url = reverse("base-lifecycle", args=["busybox"])
    assert f'action="{url}"' in page and "Deprecate BusyBox…" in page
    assert f'<option value="{busybox_two.pk}">BusyBox 1.36</option>' in page
    form = {"to": "deprecated", "replacement": busybox_two.pk, "sunset_date": "2099-01-31"}
    asked = client.post(url, form)
    text = asked.content.decode()
    assert asked.status_code == 200 and "1 recipe of 1 team" in text and "Yes, deprecate BusyBox" in text
    assert "payments/pay-api" in text and _lifecycle(busybox) == Lifecycle.PUBLISHED
    done = client.post(url, {**form, "confirm": "1"})
    assert done.status_code == 302 and done["Location"] == reverse("catalog-base", args=["busybox"])
    moved = BaseImage.objects.get(pk=busybox.pk)
    assert (moved.lifecycle, moved.replacement, moved.sunset_date) == ("deprecated", busybox_two, datetime.date(2099, 1, 31))
    after = " ".join(client.get(reverse("catalog-base", args=["busybox"])).content.decode().split())
    assert "Deprecated: replaced by <strong>BusyBox 1.36</strong>; sunset" in after and "Retire BusyBox…" in after


@pytest.mark.parametrize("form, message", [
    ({"to": "deprecated", "confirm": "1"}, "give a replacement base image, a sunset date, or both"),
    ({"to": "deprecated", "replacement": "999999", "confirm": "1"}, "Choose a base image."),
    ({"to": "retired", "confirm": "1"}, "it can move to deprecated"),
])
def test_a_refused_base_move_on_the_page_shows_why_and_changes_nothing(client, admin, recipe, busybox, form, message):
    client.force_login(admin)
    response = client.post(reverse("base-lifecycle", args=["busybox"]), form)
    assert response.status_code == 400 and message in response.content.decode()
    assert _lifecycle(busybox) == Lifecycle.PUBLISHED


def test_retiring_a_used_base_before_its_sunset_is_refused_on_the_page(client, admin, recipe, busybox):
    _move(admin, busybox, Lifecycle.DEPRECATED, sunset_date=datetime.date(2099, 1, 31))
    client.force_login(admin)
    response = client.post(reverse("base-lifecycle", args=["busybox"]), {"to": "retired", "confirm": "1"})
    assert response.status_code == 400 and "has not passed" in response.content.decode()
    assert _lifecycle(busybox) == Lifecycle.DEPRECATED


def test_a_member_cannot_move_a_base_by_posting_the_form(client, member, busybox):
    client.force_login(member)
    response = client.post(reverse("base-lifecycle", args=["busybox"]),
                           {"to": "deprecated", "sunset_date": "2099-01-01", "confirm": "1"})
    assert response.status_code == 403 and _lifecycle(busybox) == Lifecycle.PUBLISHED


# The API

def test_an_admin_moves_a_base_in_the_api_under_the_same_rules(admin, recipe, busybox, busybox_two):
    url = "/api/catalog/bases/busybox/lifecycle/"
    refused = _api(admin).post(url, {"to": "deprecated"}, format="json")
    assert refused.status_code == 400 and "a replacement base image, a sunset date" in refused.json()["detail"]
    unknown = _api(admin).post(url, {"to": "deprecated", "replacement": "nope"}, format="json")
    assert unknown.status_code == 400 and "There is no base image nope" in str(unknown.json())
    done = _api(admin).post(url, {"to": "deprecated", "replacement": "busybox-136", "sunset_date": "2099-01-31"}, format="json")
    assert done.status_code == 200
    assert {k: done.json()[k] for k in ("lifecycle", "replacement", "sunset_date")} == {
        "lifecycle": "deprecated", "replacement": "busybox-136", "sunset_date": "2099-01-31"}
    early = _api(admin).post(url, {"to": "retired"}, format="json")
    assert early.status_code == 400 and "has not passed" in early.json()["detail"]
    illegal = _api(admin).post("/api/catalog/bases/busybox-136/lifecycle/", {"to": "retired"}, format="json")
    assert illegal.status_code == 400 and "it can move to deprecated" in illegal.json()["detail"]
    assert _lifecycle(busybox) == Lifecycle.DEPRECATED and _lifecycle(busybox_two) == Lifecycle.PUBLISHED


def test_members_and_reviewers_cannot_move_bases_in_the_api(member, reviewer, busybox):
    for user in (member, reviewer):
        response = _api(user).post("/api/catalog/bases/busybox/lifecycle/", {"to": "deprecated", "sunset_date": "2099-01-31"},
                                   format="json")
        assert response.status_code == 403
    assert _lifecycle(busybox) == Lifecycle.PUBLISHED


def test_draft_bases_are_listed_in_the_api_for_admins_only(admin, member, busybox, busybox_two):
    BaseImage.objects.filter(pk=busybox_two.pk).update(lifecycle=Lifecycle.DRAFT)
    seen = {who: [b["slug"] for b in _api(user).get("/api/catalog/bases/").json()["results"]]
            for who, user in (("admin", admin), ("member", member))}
    assert seen == {"admin": ["busybox", "busybox-136"], "member": ["busybox"]}


# The Django admin: read-only

def test_the_admin_shows_a_base_lifecycle_read_only(client, admin, busybox):
    client.force_login(admin)
    change = f"/admin/catalog/baseimage/{busybox.pk}/change/"
    form = {"slug": "busybox", "name": "BusyBox renamed", "repository": "base/busybox", "tag": "1.35", "digest": busybox.digest,
            "layer_digests": '["sha256:' + "2" * 64 + '"]', "os_family": "busybox", "os_release": "", "approved": "on",
            "lifecycle": "retired", "sunset_date": "2000-01-01", "description": ""}
    response = client.post(change, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = BaseImage.objects.get(pk=busybox.pk)
    assert (saved.name, saved.lifecycle, saved.sunset_date) == ("BusyBox renamed", Lifecycle.PUBLISHED, None)
    # A new base is added on the Catalog page (registry digest, repository rules, draft), never here.
    added = client.post("/admin/catalog/baseimage/add/", {**form, "slug": "other", "name": "Other"})
    assert added.status_code == 302 and added.url == "/catalog/bases/new"
    assert not BaseImage.objects.filter(slug="other").exists()
