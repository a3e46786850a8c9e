"""The Django admin's rebuild actions go through the same service as the Rebuilds page: each makes
a batch (with its progress page), and each build says why it was made."""
import pytest
from django.test import Client
from django.urls import reverse

from builds.models import Build
from builds.recipes.services import recipe_save
from catalog.models import ComponentVersion
from curation.models import RebuildBatch
from curation.usage import recipes_using_component
from portal.models import AuditEvent, GlobalRole
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db


def test_the_admin_action_upgrades_every_recipe_to_the_new_version_and_rebuilds_as_a_batch(member, team, busybox, runtime_user):  # noqa: F811
    recipes = [recipe_save(user=member, team=team, name=f"svc-{n}", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
               for n in range(2)]
    newer = ComponentVersion.objects.create(component=runtime_user.component, version="2", os_families=["busybox"],
                                            fragment="RUN echo app2 >> /etc/passwd", final_fragment="USER {{ uid }}",
                                            parameters=runtime_user.parameters)
    admin = with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    assert set(recipes_using_component(runtime_user.component)) == set(recipes)
    client = Client()
    client.force_login(admin)
    response = client.post(reverse("admin:catalog_component_changelist"), {
        "action": "upgrade_and_rebuild", "_selected_action": [runtime_user.component.pk]}, follow=True)

    batch = RebuildBatch.objects.get()
    assert batch.component == runtime_user.component and batch.target_version == newer
    assert f"Rebuild #{batch.pk}</a> of component Non-root runtime user (move to 2): 2 builds requested" in response.content.decode()
    builds = Build.objects.filter(rebuild_items__batch=batch)
    assert builds.count() == 2
    for build in builds:
        assert "app2" in build.dockerfile and build.requested_by == admin
        assert build.reason == f"component {runtime_user.component.name} 1 -> 2 by pat"
    client.force_login(member)  # the team reads why an admin built its image
    page = client.get(reverse("build-detail", args=[builds[0].pk])).content.decode()
    assert f"(component {runtime_user.component.name} 1 -&gt; 2 by pat)" in page
    assert all(r.choices.get().version == newer for r in recipes)
    assert AuditEvent.objects.filter(action="curation.rebuild.run", target_id=str(batch.pk)).exists()


def test_the_admin_shows_what_uses_a_base_and_links_to_planning_its_rebuild(client, member, team, busybox, runtime_user):  # noqa: F811
    recipe = recipe_save(user=member, team=team, name="svc", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
    client.force_login(with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN))
    page = client.get(reverse("admin:catalog_baseimage_change", args=[busybox.pk])).content.decode()
    assert "Used by" in page and reverse("recipe-detail", args=[recipe.pk]) in page
    assert f'{reverse("rebuild-new")}?subject=base:busybox' in page
