"""The Django admin's rebuild actions open the Rebuilds page's plan (impact and dry run) instead of
running: only the plan's confirmation makes the batch, and each build says why it was made."""
import pytest
from django.test import Client
from django.urls import reverse

from builds.models import Build
from builds.recipes.services import recipe_save
from catalog.models import Component, ComponentVersion
from curation.models import RebuildBatch
from curation.usage import recipes_using_component
from portal.models import AuditEvent, GlobalRole
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db


def test_the_admin_action_opens_the_plan_and_only_its_confirmation_runs_the_batch(member, team, busybox, runtime_user):  # noqa: F811
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
        "action": "upgrade_and_rebuild", "_selected_action": [runtime_user.component.pk]})

    assert response.status_code == 302 and response.url == f"{reverse('rebuild-new')}?subject=component%3Aruntime-user&upgrade=1"
    assert not RebuildBatch.objects.exists() and not Build.objects.exists(), "the action plans; it runs nothing"
    assert all(r.choices.get().version == runtime_user for r in recipes), "no recipe moved before the run"
    plan = client.get(response.url).content.decode()
    assert "Impact: component Non-root runtime user (move to 2)" in plan and "Would build" in plan

    client.post(reverse("rebuild-new"), {"subject": "component:runtime-user", "upgrade": "1", "mode": "all", "confirm": "1"})
    batch = RebuildBatch.objects.get()
    assert batch.component == runtime_user.component and batch.target_version == newer
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


def test_several_components_get_a_link_to_each_plan_and_nothing_runs(client, runtime_user):
    other = Component.objects.create(slug="wget", name="wget", kind="option", order_weight=20)
    ComponentVersion.objects.create(component=other, version="1", os_families=["busybox"], fragment="RUN true")
    client.force_login(with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN))
    response = client.post(reverse("admin:catalog_component_changelist"), {
        "action": "upgrade_and_rebuild", "_selected_action": [runtime_user.component.pk, other.pk]}, follow=True)
    page = response.content.decode()
    assert "planned for one base or component at a time" in page
    for slug in ("runtime-user", "wget"):
        assert f'href="{reverse("rebuild-new")}?subject=component%3A{slug}&amp;upgrade=1"' in page
    assert not RebuildBatch.objects.exists() and not Build.objects.exists()


def test_the_repin_action_pins_the_base_then_opens_its_plan_without_building(services, member, team, busybox, runtime_user):  # noqa: F811
    recipe_save(user=member, team=team, name="svc", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
    client = Client()
    client.force_login(with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN))
    old = busybox.digest
    response = client.post(reverse("admin:catalog_baseimage_changelist"), {
        "action": "repin_and_rebuild", "_selected_action": [busybox.pk]})
    busybox.refresh_from_db()
    assert response.status_code == 302 and response.url == f"{reverse('rebuild-new')}?subject=base%3Abusybox"
    assert busybox.digest != old and busybox.digest.startswith("sha256:"), "pinned to what the registry holds"
    assert AuditEvent.objects.get(action="catalog.baseimage.pinned").data == {"before": old, "digest": busybox.digest}
    assert not RebuildBatch.objects.exists() and not Build.objects.exists()


def test_the_admin_shows_what_uses_a_base_and_links_to_planning_its_rebuild(client, member, team, busybox, runtime_user):  # noqa: F811
    recipe = recipe_save(user=member, team=team, name="svc", base=busybox, choices=[(runtime_user, {"uid": "10001"})])
    client.force_login(with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN))
    page = client.get(reverse("admin:catalog_baseimage_change", args=[busybox.pk])).content.decode()
    assert "Used by" in page and reverse("recipe-detail", args=[recipe.pk]) in page
    assert f'{reverse("rebuild-new")}?subject=base:busybox' in page
