"""New components and base images, and re-pinning a base (curation.entries): each rule refused with a
message naming its field and nothing saved; a base is read from the real registry (base/busybox:1.35,
minted by `make base-images`), created approved and in draft, and audited; the Django admin goes
through the same service."""
import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from adapters.factory import registry_client
from catalog.models import BaseImage, Component, Lifecycle, ProposalState
from catalog.selectors import known_bases, selectable_bases
from curation.entries import EntryError, base_create, base_repin, component_create
from curation.lifecycle import base_transition
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def component(user, **changes):
    values = {"slug": "jacoco-agent", "name": "JaCoCo agent", "kind": "service", "description": "Coverage",
              "order_weight": "40", **changes}
    return component_create(user=user, **values)


def base(user, **changes):
    values = {"slug": "busybox-new", "name": "BusyBox again", "repository": "base/busybox", "tag": "1.35",
              "os_family": "busybox", "os_release": "1.35", **changes}
    return base_create(user=user, **values)


def refused(create, user, **changes) -> dict:
    before = (Component.objects.count(), BaseImage.objects.count(), AuditEvent.objects.count())
    with pytest.raises(EntryError) as refusal:
        create(user, **changes)
    assert (Component.objects.count(), BaseImage.objects.count(), AuditEvent.objects.count()) == before, "nothing saved"
    return refusal.value.errors


def test_an_admin_creates_a_component_without_versions_audited(admin):
    created = component(admin)
    assert (created.slug, created.name, created.kind, created.order_weight) == ("jacoco-agent", "JaCoCo agent", "service", 40)
    assert not created.versions.exists() and created.latest_version() is None
    event = AuditEvent.objects.get(action="catalog.component.created")
    assert event.actor == admin and event.target_id == str(created.pk)
    assert event.data == {"component": "jacoco-agent", "kind": "service", "order_weight": 40}


@pytest.mark.parametrize("slug", ["JaCoCo", "jacoco_agent", "-jacoco", "a/b", "../x", "x" * 51, "", "new"])
def test_a_component_slug_must_be_lower_case_letters_digits_and_dashes(admin, slug):
    assert list(refused(component, admin, slug=slug)) == ["slug"]


def test_a_component_slug_is_unique(admin, runtime_user):
    assert "There is already a component runtime-user" in refused(component, admin, slug="runtime-user")["slug"][0]


@pytest.mark.parametrize("changes, field", [
    ({"name": " "}, "name"), ({"name": "n" * 101}, "name"), ({"kind": "plugin"}, "kind"),
    ({"order_weight": "ten"}, "order_weight"), ({"order_weight": "-1"}, "order_weight"),
    ({"order_weight": 10001}, "order_weight"), ({"order_weight": True}, "order_weight"),
    ({"description": "d" * 2001}, "description"),
])
def test_each_component_field_is_checked(admin, changes, field):
    assert list(refused(component, admin, **changes)) == [field]


@pytest.mark.parametrize("who", ["member", "reviewer"])
def test_only_platform_admins_create_components_and_bases(request, who):
    user = request.getfixturevalue(who)
    for create in (component, base):
        with pytest.raises(PermissionDenied):
            create(user)
    assert not Component.objects.exists() and not BaseImage.objects.exists()


def test_an_admin_adds_a_base_pinned_to_the_registry_as_a_draft_then_publishes_it(services, admin):
    manifest, digest = registry_client("scanner").manifest("base/busybox", "1.35")
    created = base(admin, build_base=True, description="The same busybox")
    assert (created.digest, created.layer_digests) == (digest, [layer["digest"] for layer in manifest["layers"]])
    assert created.approved and created.lifecycle == Lifecycle.DRAFT and created.build_base and created.proposal_state == ""
    assert created not in known_bases() and created not in selectable_bases(), "teams do not see a draft"
    event = AuditEvent.objects.get(action="catalog.baseimage.created")
    assert event.actor == admin and event.data["reference"] == f"base/busybox:1.35@{digest}"
    assert event.data["lifecycle"] == "draft" and event.data["layers"] == len(created.layer_digests)
    base_transition(user=admin, base=created, to=Lifecycle.PUBLISHED)
    assert created in selectable_bases()


@pytest.mark.parametrize("repository", ["quarantine/payments/pay-api", "published/payments/pay-api", "quarantine", "published"])
def test_a_base_never_comes_from_quarantine_or_the_published_images(admin, repository):
    errors = refused(base, admin, repository=repository)
    assert list(errors) == ["repository"] and "A base cannot come from" in errors["repository"][0]


def test_the_prefixes_are_the_settings(admin, settings):
    settings.QUARANTINE_REPOSITORY_PREFIX = "staging"
    assert "cannot come from staging/" in refused(base, admin, repository="staging/payments/x")["repository"][0]


@pytest.mark.parametrize("repository", ["base//busybox", "base/../published/x", "Base/busybox", "127.0.0.1:5000/base/busybox",
                                        "/base/busybox", "base/busybox?x=1", "b" * 201])
def test_a_repository_follows_the_registry_name_rule(admin, repository):
    assert list(refused(base, admin, repository=repository)) == ["repository"]


@pytest.mark.parametrize("changes, field", [
    ({"tag": "1.35/../x"}, "tag"), ({"tag": "sha256:" + "1" * 64}, "tag"), ({"tag": ""}, "tag"),
    ({"os_family": "Debian"}, "os_family"), ({"os_family": ""}, "os_family"), ({"os_release": "12 beta"}, "os_release"),
    ({"slug": "BusyBox"}, "slug"), ({"slug": "new"}, "slug"), ({"name": ""}, "name"),
])
def test_each_base_field_is_checked_before_the_registry_is_asked(admin, changes, field, settings):
    settings.REGISTRY_URL = "http://127.0.0.1:1"  # nothing answers there: these are refused before any request
    assert list(refused(base, admin, **changes)) == [field]


def test_a_base_slug_is_unique(admin, busybox):
    assert "There is already a base image busybox" in refused(base, admin, slug="busybox")["slug"][0]


def test_a_tag_the_registry_does_not_have_is_refused_with_the_tags_it_has(services, admin):
    errors = refused(base, admin, tag="9.99")
    assert list(errors) == ["tag"]
    assert "The registry has no image base/busybox:9.99" in errors["tag"][0] and "1.35" in errors["tag"][0]
    errors = refused(base, admin, repository="base/nothing-here")
    assert "The registry has no repository base/nothing-here" in errors["tag"][0]


def test_a_registry_that_cannot_be_reached_saves_nothing_and_says_so(admin, settings):
    settings.REGISTRY_URL = "http://127.0.0.1:1"
    errors = refused(base, admin)
    assert list(errors) == ["registry"] and "The registry cannot be read, so nothing was saved" in errors["registry"][0]


def test_an_image_that_is_another_base_already_is_refused(services, admin):
    first = base(admin)
    errors = refused(base, admin, slug="busybox-twice")
    assert f"is the image of the base BusyBox again (busybox-new) already ({first.digest})" in errors["tag"][0]
    # A rejected proposal of the same image does not hold it.
    BaseImage.objects.filter(pk=first.pk).update(proposal_state=ProposalState.REJECTED, lifecycle=Lifecycle.RETIRED)
    assert base(admin, slug="busybox-twice").digest == first.digest


def test_re_pinning_records_the_registry_digest_with_the_one_before(services, admin, busybox):
    old = busybox.digest
    pinned = base_repin(user=admin, base=busybox)
    manifest, digest = registry_client("scanner").manifest("base/busybox", "1.35")
    assert pinned.digest == digest != old and pinned.layer_digests == [layer["digest"] for layer in manifest["layers"]]
    assert BaseImage.objects.get(pk=busybox.pk).digest == digest
    event = AuditEvent.objects.get(action="catalog.baseimage.pinned")
    assert event.actor == admin and event.data == {"before": old, "digest": digest}


def test_a_proposal_waiting_for_review_or_a_retired_base_is_not_re_pinned(admin, busybox):
    for state in ({"proposal_state": ProposalState.PENDING, "approved": False}, {"lifecycle": Lifecycle.RETIRED}):
        BaseImage.objects.filter(pk=busybox.pk).update(**state)
        with pytest.raises(EntryError, match="waiting for review|is retired"):
            base_repin(user=admin, base=BaseImage.objects.get(pk=busybox.pk))
        assert BaseImage.objects.get(pk=busybox.pk).digest == busybox.digest
    assert not AuditEvent.objects.filter(action="catalog.baseimage.pinned").exists()


def test_re_pinning_is_for_platform_admins_only(member, busybox):
    with pytest.raises(PermissionDenied):
        base_repin(user=member, base=busybox)
    assert BaseImage.objects.get(pk=busybox.pk).digest == busybox.digest


def test_re_pinning_with_the_registry_down_changes_nothing(admin, busybox, settings):
    settings.REGISTRY_URL = "http://127.0.0.1:1"
    with pytest.raises(EntryError, match="BusyBox is not re-pinned: the registry answered"):
        base_repin(user=admin, base=busybox)
    assert BaseImage.objects.get(pk=busybox.pk).digest == busybox.digest


# The Django admin: the same service, or the page

def test_the_admin_repin_action_refuses_a_proposal_through_the_service(client, admin, busybox):
    BaseImage.objects.filter(pk=busybox.pk).update(proposal_state=ProposalState.PENDING, approved=False)
    client.force_login(admin)
    response = client.post(reverse("admin:catalog_baseimage_changelist"),
                           {"action": "repin_and_rebuild", "_selected_action": [busybox.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "busybox: BusyBox is a proposal waiting for review: it is pinned when it is approved."]
    assert BaseImage.objects.get(pk=busybox.pk).digest == busybox.digest


def test_the_admin_adds_bases_on_the_catalog_page_only(client, admin):
    client.force_login(admin)
    form = {"slug": "sneaky", "name": "Sneaky", "repository": "published/payments/pay-api", "tag": "1",
            "digest": "sha256:" + "5" * 64, "layer_digests": "[]", "os_family": "busybox", "approved": "on", "lifecycle": "published"}
    for response in (client.get("/admin/catalog/baseimage/add/"), client.post("/admin/catalog/baseimage/add/", form)):
        assert response.status_code == 302 and response.url == reverse("catalog-base-new")
    assert not BaseImage.objects.exists()


def test_the_admin_cannot_repoint_a_saved_base(client, admin, busybox):
    client.force_login(admin)
    client.post(f"/admin/catalog/baseimage/{busybox.pk}/change/", {
        "slug": "busybox", "name": "BusyBox", "repository": "quarantine/payments/pay-api", "tag": "evil",
        "digest": "sha256:" + "5" * 64, "layer_digests": "[]", "os_family": "busybox", "os_release": "", "approved": "on",
        "description": ""})
    saved = BaseImage.objects.get(pk=busybox.pk)
    assert (saved.repository, saved.tag, saved.digest, saved.layer_digests) == (
        "base/busybox", "1.35", busybox.digest, busybox.layer_digests)


def test_the_admin_component_form_asks_the_same_checks(client, admin, runtime_user):
    client.force_login(admin)
    form = {"slug": "Bad_Slug", "name": "Bad", "kind": "option", "description": "", "order_weight": "99999",
            "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"}
    page = client.post("/admin/catalog/component/add/", form).content.decode()
    assert "Give a slug of lower-case letters" in page and "Give a whole number from 0 to 10000" in page
    assert not Component.objects.exclude(pk=runtime_user.component.pk).exists()
    response = client.post("/admin/catalog/component/add/", {**form, "slug": "htop", "order_weight": "30"})
    assert response.status_code == 302 and Component.objects.get(slug="htop").order_weight == 30
    change = f"/admin/catalog/component/{runtime_user.component.pk}/change/"
    client.post(change, {**form, "slug": "renamed", "name": "Runtime user", "order_weight": "90"})
    assert Component.objects.get(pk=runtime_user.component.pk).slug == "runtime-user", "the slug stays"
