"""Admins see what uses a base or component and rebuild it all in one action (each a normal build)."""
import pytest
from django.test import Client
from django.urls import reverse

from builds.models import Build
from builds.recipes.services import recipe_save
from catalog.models import ComponentVersion
from curation.rebuilds import recipes_rebuild
from curation.usage import recipes_using_component
from portal.models import AuditEvent, GlobalRole
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db


def test_it_upgrades_every_recipe_to_the_new_version_and_rebuilds(member, team, busybox, runtime_user):  # noqa: F811
    recipes = [recipe_save(user=member, team=team, name=f"svc-{n}", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
               for n in range(2)]
    newer = ComponentVersion.objects.create(component=runtime_user.component, version="2", os_families=["busybox"],
                                            fragment="RUN echo app2 >> /etc/passwd", final_fragment="USER {{ uid }}",
                                            parameters=runtime_user.parameters)
    admin = with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    assert set(recipes_using_component(runtime_user.component)) == set(recipes)
    outcome = recipes_rebuild(user=admin, recipes=recipes, upgrade=runtime_user.component)

    assert len(outcome["built"]) == 2 and outcome["failed"] == {}
    for build in Build.objects.filter(pk__in=outcome["built"]):
        assert "app2" in build.dockerfile and build.requested_by == admin
        assert build.reason == f"moved to {runtime_user.component.name} 2 and rebuilt by a platform admin"
    client = Client()
    client.force_login(member)  # the team reads why an admin built its image
    page = client.get(reverse("build-detail", args=[outcome["built"][0]])).content.decode()
    assert f"(moved to {runtime_user.component.name} 2 and rebuilt by a platform admin)" in page
    assert all(r.choices.get().version == newer for r in recipes)
    assert AuditEvent.objects.filter(action="catalog.rebuild").exists()


def test_the_admin_shows_what_uses_a_base(client, member, team, busybox, runtime_user):  # noqa: F811
    recipe = recipe_save(user=member, team=team, name="svc", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
    client.force_login(with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN))
    page = client.get(reverse("admin:catalog_baseimage_change", args=[busybox.pk])).content.decode()
    assert "Used by" in page and reverse("recipe-detail", args=[recipe.pk]) in page
