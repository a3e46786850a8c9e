"""The Catalog pages for platform admins: the list, a component's page (versions, parameters,
dependencies, "used by" with links, image and verdict), a base's page, the lifecycle moves on a
confirmation page; others get 403. And the recipe page's notice of newer or deprecated versions."""
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from builds.models import Build
from builds.recipes.services import recipe_save
from catalog.models import Component, ComponentVersion, Lifecycle
from curation.lifecycle import version_transition
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def jacoco(db):
    component = Component.objects.create(slug="jacoco", name="JaCoCo agent", kind="service")
    return ComponentVersion.objects.create(component=component, version="0.8.12", os_families=["debian"], fragment="RUN true",
                                           requires=["runtime-user"])


@pytest.mark.parametrize("name, arg", [("catalog-list", None), ("catalog-component", "runtime-user"), ("catalog-base", "busybox")])
def test_members_and_reviewers_get_403_on_the_catalog_pages(client, member, reviewer, runtime_user, busybox, name, arg):
    for user in (member, reviewer):
        client.force_login(user)
        response = client.get(reverse(name, args=[arg] if arg else []))
        assert response.status_code == 403


def test_a_member_cannot_move_a_version_by_posting_the_form(client, member, runtime_user):
    client.force_login(member)
    response = client.post(reverse("component-version-lifecycle", args=[runtime_user.pk]),
                           {"to": "deprecated", "sunset_date": "2099-01-01", "confirm": "1"})
    assert response.status_code == 403
    assert ComponentVersion.objects.get(pk=runtime_user.pk).lifecycle == Lifecycle.PUBLISHED


def test_the_list_shows_bases_and_components_with_versions_lifecycle_and_use(client, admin, recipe, busybox, runtime_user):
    client.force_login(admin)
    text = client.get(reverse("catalog-list")).content.decode()
    assert reverse("catalog-base", args=["busybox"]) in text and reverse("catalog-component", args=["runtime-user"]) in text
    assert "1 · Published" in text and "1 recipe" in text


def test_the_component_page_shows_parameters_dependencies_and_who_uses_it(client, admin, recipe, build, runtime_user,
                                                                           version_two, jacoco):
    Build.objects.filter(pk=build.pk).update(status=Build.Status.SUCCEEDED, digest="sha256:" + "9" * 64)
    client.force_login(admin)
    text = client.get(reverse("catalog-component", args=["runtime-user"])).content.decode()
    assert "<code>uid</code>" in text and "min: 1000" in text and "max: 65000" in text and "User id" in text
    assert 'Needed by</dt><dd><a href="%s">JaCoCo agent</a>' % reverse("catalog-component", args=["jacoco"]) in text
    assert f'<a href="{reverse("recipe-detail", args=[recipe.pk])}">pay-api</a>' in text
    assert "<td>payments</td>" in text and "<code>1</code>" in text
    assert f'<a href="{reverse("build-detail", args=[build.pk])}">build #{build.pk}</a>' in text
    assert f'{reverse("rebuild-new")}?subject=component:runtime-user' in text
    jacoco_page = client.get(reverse("catalog-component", args=["jacoco"])).content.decode()
    assert f'Needs</strong>: <a href="{reverse("catalog-component", args=["runtime-user"])}">Non-root runtime user</a>' in jacoco_page
    assert "Not used by any recipe" in jacoco_page


def test_the_base_page_lists_the_recipes_built_on_it(client, admin, recipe, busybox):
    client.force_login(admin)
    text = client.get(reverse("catalog-base", args=["busybox"])).content.decode()
    assert f'<a href="{reverse("recipe-detail", args=[recipe.pk])}">pay-api</a>' in text and "no image yet" in text
    assert f'{reverse("rebuild-new")}?subject=base:busybox' in text


def test_deprecating_asks_for_a_confirmation_stating_the_impact_then_moves(client, admin, recipe, runtime_user, version_two):
    client.force_login(admin)
    url = reverse("component-version-lifecycle", args=[runtime_user.pk])
    form = {"to": "deprecated", "replacement": version_two.pk, "sunset_date": "2099-01-31"}
    asked = client.post(url, form)
    text = asked.content.decode()
    assert asked.status_code == 200 and "1 recipe of 1 team" in text and "Yes, deprecate 1" in text
    assert ComponentVersion.objects.get(pk=runtime_user.pk).lifecycle == Lifecycle.PUBLISHED
    done = client.post(url, {**form, "confirm": "1"})
    assert done.status_code == 302 and done["Location"] == reverse("catalog-component", args=["runtime-user"])
    moved = ComponentVersion.objects.get(pk=runtime_user.pk)
    assert (moved.lifecycle, moved.replacement, moved.sunset_date) == ("deprecated", version_two, datetime.date(2099, 1, 31))
    assert AuditEvent.objects.filter(action="catalog.version.deprecated", actor=admin).exists()


@pytest.mark.parametrize("form, message", [
    ({"to": "deprecated", "confirm": "1"}, "give a replacement version, a sunset date, or both"),
    ({"to": "deprecated", "sunset_date": "31/01/2099", "confirm": "1"}, "Give the day as YYYY-MM-DD."),
    ({"to": "deprecated", "replacement": "999999", "confirm": "1"}, "Choose a version of this component."),
    ({"to": "retired", "confirm": "1"}, "it can move to deprecated"),
    ({"to": "", "confirm": "1"}, "it can move to deprecated"),
])
def test_a_refused_move_shows_why_and_changes_nothing(client, admin, recipe, runtime_user, form, message):
    client.force_login(admin)
    response = client.post(reverse("component-version-lifecycle", args=[runtime_user.pk]), form)
    assert response.status_code == 400 and message in response.content.decode()
    assert ComponentVersion.objects.get(pk=runtime_user.pk).lifecycle == Lifecycle.PUBLISHED


# The recipe page's notice

def test_the_recipe_page_says_a_newer_version_is_available_with_an_edit_link(client, member, recipe, version_two):
    client.force_login(member)
    text = " ".join(client.get(reverse("recipe-detail", args=[recipe.pk])).content.decode().split())
    assert "Non-root runtime user 1 has a newer version available: 2." in text
    assert f'<a href="{reverse("recipe-edit", args=[recipe.pk])}">Edit the recipe to use 2</a>' in text
    assert "Plan a rebuild" not in text  # members do not plan rebuilds


def test_the_recipe_page_names_the_replacement_and_sunset_of_a_deprecated_version(client, admin, member, recipe, runtime_user,
                                                                                  version_two):
    version_transition(user=admin, version=runtime_user, to="deprecated", replacement=version_two,
                       sunset_date=datetime.date(2099, 1, 31))
    client.force_login(member)
    text = " ".join(client.get(reverse("recipe-detail", args=[recipe.pk])).content.decode().split())
    assert "is <strong>deprecated</strong>, replaced by 2; sunset" in text and "2099-01-31" in text
    client.force_login(admin)
    admin_text = client.get(reverse("recipe-detail", args=[recipe.pk])).content.decode()
    assert f'{reverse("rebuild-new")}?subject=component:runtime-user&amp;upgrade=1' in admin_text


def test_an_up_to_date_recipe_has_no_notice_and_a_draft_is_not_announced(client, member, recipe, runtime_user):
    ComponentVersion.objects.create(component=runtime_user.component, version="3", os_families=["busybox"], fragment="RUN true",
                                    lifecycle=Lifecycle.DRAFT)
    client.force_login(member)
    text = client.get(reverse("recipe-detail", args=[recipe.pk])).content.decode()
    assert 'id="version-notices"' not in text


def test_the_images_list_marks_recipes_whose_versions_moved_on_in_a_fixed_number_of_queries(
        client, member, team, busybox, recipe, runtime_user, version_two):
    recipe_save(user=member, team=team, name="pay-new", base=busybox, choices=[(version_two, {"uid": "10001"})])
    client.force_login(member)
    with CaptureQueriesContext(connection) as few:
        text = " ".join(client.get(reverse("home")).content.decode().split())
    assert text.count("version-notice") == 1 and "Non-root runtime user 1: 2 available" in text
    for n in range(3):
        recipe_save(user=member, team=team, name=f"pay-old-{n}", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
    with CaptureQueriesContext(connection) as more:
        assert client.get(reverse("home")).content.decode().count("version-notice") == 4
    assert len(more) == len(few)
