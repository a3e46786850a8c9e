"""Rebuilds as plan, then run: the impact in dependency order, a dry run that changes nothing, the
"only passing" mode, a batch whose items follow their builds, retries, and why each build was made.

Builds are requested for real (builds.services.build_request) but never run: these tests run in a
transaction that is rolled back, so the on_commit dispatch to the workers never happens."""
import pytest
from django.urls import reverse

from builds.models import Build, RecipeComponent
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, ComponentVersion, ProposalState
from compliance.models import Verdict
from curation.models import RebuildBatch, RebuildItem, RebuildMode
from curation.rebuild_plans import RebuildError, rebuild_dry_run, rebuild_item_retry, rebuild_plan, rebuild_run, rebuild_subject
from portal.models import AuditEvent, GlobalRole
from tests.factories import UserFactory, member_of, with_role

pytestmark = pytest.mark.django_db
STRICTER = [{"name": "uid", "type": "integer", "default": "1001", "min": 1000, "max": 5000}]


@pytest.fixture
def admin(db):
    return with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)


def _succeeded(build, *, passed=None, published=True):
    """The build as a worker would leave it: succeeded, published or held back, with a verdict."""
    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.SUCCEEDED, digest="sha256:" + "a" * 64,
        published_reference=f"registry/published/{build.team.slug}/{build.recipe.name}:1" if published else "")
    if passed is not None:
        Verdict.objects.create(build=build, passed=passed, results=[])
    build.refresh_from_db()
    return build


@pytest.fixture
def fleet(team, other_team, member, busybox, runtime_user):
    """payments/zz-base publishes a custom base that payments/aa-app starts FROM; search/api and
    payments/mm-svc use BusyBox directly. Every recipe has the runtime-user component."""
    outsider = member_of(other_team, "sam")
    choice = [(runtime_user, {"uid": "10001"})]
    zz_base = recipe_save(user=member, team=team, name="zz-base", base=busybox, choices=choice)
    source = _succeeded(build_request(user=member, recipe=zz_base), passed=True)
    custom = BaseImage.objects.create(slug="pay-base", name="Payments base", repository="published/payments/zz-base", tag="1",
                                      digest="sha256:" + "3" * 64, layer_digests=["sha256:" + "2" * 64], os_family="busybox",
                                      approved=True, proposal_state=ProposalState.APPROVED, source_build=source)
    aa_app = recipe_save(user=member, team=team, name="aa-app", base=custom, choices=choice)
    mm_svc = recipe_save(user=member, team=team, name="mm-svc", base=busybox, choices=[(runtime_user, {"uid": "2000"})])
    api = recipe_save(user=outsider, team=other_team, name="api", base=busybox, choices=choice)
    _succeeded(build_request(user=member, recipe=mm_svc), passed=False, published=False)
    return {"zz-base": zz_base, "aa-app": aa_app, "mm-svc": mm_svc, "api": api, "source": source}


def _names(plan):
    return [str(p.recipe) for p in plan.recipes]


def test_the_plan_lists_every_recipe_in_dependency_order_with_its_image_and_versions(admin, fleet, runtime_user):
    newer = ComponentVersion.objects.create(component=runtime_user.component, version="2", os_families=["busybox"],
                                            fragment="RUN echo app2 >> /etc/passwd", final_fragment="USER {{ uid }}",
                                            parameters=runtime_user.parameters)
    plan = rebuild_plan(user=admin, subject=rebuild_subject(component="runtime-user", upgrade=True))

    # aa-app sorts first by name but starts FROM the image zz-base publishes: it comes after it.
    assert _names(plan) == ["payments/mm-svc", "payments/zz-base", "payments/aa-app", "search/api"]
    by_name = {p.recipe.name: p for p in plan.recipes}
    assert [r.name for r in by_name["aa-app"].after] == ["zz-base"]
    assert (by_name["zz-base"].from_version, by_name["zz-base"].to_version) == ("1", newer.version)
    assert by_name["zz-base"].image == fleet["source"] and by_name["zz-base"].verdict_state == "pass"
    assert by_name["mm-svc"].verdict_state == "blocked"
    assert by_name["api"].image is None and by_name["api"].verdict_state == "no image"
    assert by_name["api"].recipe.team.slug == "search"


def test_a_base_plan_lists_its_recipes_with_the_digest_they_were_built_from(admin, fleet, busybox):
    plan = rebuild_plan(user=admin, subject=rebuild_subject(base="busybox"))
    assert _names(plan) == ["payments/mm-svc", "payments/zz-base", "search/api"]  # aa-app is on the custom base
    zz = next(p for p in plan.recipes if p.recipe.name == "zz-base")
    assert zz.from_version == zz.to_version == busybox.digest[:19]


def test_a_base_used_only_for_a_build_stage_is_in_its_plan_and_used_by(admin, fleet, busybox, client):
    other = BaseImage.objects.create(slug="busybox-136", name="BusyBox 1.36", repository="base/busybox", tag="1.36",
                                     digest="sha256:" + "4" * 64, os_family="busybox", approved=True)
    fleet["api"].__class__.objects.filter(pk=fleet["api"].pk).update(base=other, build_base=busybox)
    plan = rebuild_plan(user=admin, subject=rebuild_subject(base="busybox"))
    assert _names(plan) == ["payments/mm-svc", "payments/zz-base", "search/api"], "api builds its package on busybox"
    assert _names(rebuild_plan(user=admin, subject=rebuild_subject(base="busybox-136"))) == ["search/api"]
    api = next(p for p in plan.recipes if p.recipe.name == "api")
    assert (api.from_version, api.to_version) == ("not built", busybox.digest[:19])
    client.force_login(admin)
    used_by = client.get(reverse("catalog-base", args=["busybox"])).content.decode().split('id="used-by"')[1]
    assert f'href="{reverse("recipe-detail", args=[fleet["api"].pk])}">api</a>' in used_by


def test_the_dry_run_composes_with_the_change_and_changes_nothing(admin, fleet, runtime_user):
    ComponentVersion.objects.create(component=runtime_user.component, version="2", os_families=["busybox"],
                                    fragment="RUN true", final_fragment="USER {{ uid }}", parameters=STRICTER)
    before = (list(RecipeComponent.objects.order_by("pk").values_list("recipe", "version", "values")),
              Build.objects.count(), AuditEvent.objects.count())

    plan = rebuild_dry_run(user=admin, plan=rebuild_plan(user=admin, subject=rebuild_subject(component="runtime-user",
                                                                                              upgrade=True)))

    outcome = {p.recipe.name: (p.dry_run, p.dry_run_detail) for p in plan.recipes}
    assert outcome["mm-svc"] == ("would build", "")  # uid 2000 is within the new version's range
    assert outcome["zz-base"][0] == "would fail" and "not valid" in outcome["zz-base"][1]  # uid 10001 is not
    assert "runtime-user: uid: must be between 1000 and 5000" in outcome["zz-base"][1], "the field to fix is named"
    assert plan.counts == {"recipes": 4, "skipped": 0, "would_build": 1, "would_fail": 3}
    after = (list(RecipeComponent.objects.order_by("pk").values_list("recipe", "version", "values")),
             Build.objects.count(), AuditEvent.objects.count())
    assert after == before
    assert not RebuildBatch.objects.exists()


def test_only_passing_mode_skips_recipes_whose_image_does_not_pass_and_says_why(admin, fleet):
    batch = rebuild_run(user=admin, subject=rebuild_subject(base="busybox"), mode=RebuildMode.PASSING)

    items = {i.recipe.name: i for i in batch.items.all()}
    assert items["zz-base"].status == RebuildItem.Status.REQUESTED and items["zz-base"].build is not None
    assert items["mm-svc"].status == RebuildItem.Status.SKIPPED and items["mm-svc"].build is None
    assert "blocked by policy" in items["mm-svc"].detail
    assert items["api"].status == RebuildItem.Status.SKIPPED and "no current image" in items["api"].detail
    assert Build.objects.filter(recipe=fleet["mm-svc"]).count() == 1  # only its earlier build


def test_the_run_requests_builds_in_order_with_their_reason_and_reports_what_does_not_compose(admin, fleet, runtime_user):
    newer = ComponentVersion.objects.create(component=runtime_user.component, version="2", os_families=["busybox"],
                                            fragment="RUN true", final_fragment="USER {{ uid }}", parameters=STRICTER)
    batch = rebuild_run(user=admin, subject=rebuild_subject(component="runtime-user", upgrade=True))

    items = list(batch.items.select_related("recipe", "build"))
    assert [i.recipe.name for i in items] == ["mm-svc", "zz-base", "aa-app", "api"]
    built, failed = items[0], items[1:]
    assert built.status == RebuildItem.Status.REQUESTED
    assert built.build.reason == "component Non-root runtime user 1 -> 2 by pat" and built.build.requested_by == admin
    assert not built.build.no_cache, "a moved recipe has a new composition: its layer cache still serves"
    assert built.recipe.choices.get().version == newer
    for item in failed:  # not moved, not built: the recipe keeps the version it composes with
        assert item.status == RebuildItem.Status.COMPOSE_FAILED and "not valid" in item.detail and item.build is None
        assert item.recipe.choices.get().version == runtime_user
    event = AuditEvent.objects.get(action="curation.rebuild.run")
    assert event.target_id == str(batch.pk) and event.data["requested"] == 1 and event.data["compose-failed"] == 3


def test_a_base_rebuild_says_which_base_and_who(admin, fleet):
    batch = rebuild_run(user=admin, subject=rebuild_subject(base="busybox"))
    builds = Build.objects.filter(rebuild_items__batch=batch)
    assert set(builds.values_list("reason", flat=True)) == {"base BusyBox rebuilt by pat"}
    # nothing in the recipes changed: they are rebuilt for fresh packages, never answered by their published builds
    assert builds.count() == batch.items.count() and all(builds.values_list("no_cache", flat=True))


def test_an_item_follows_its_build_and_a_failed_one_can_be_retried(admin, fleet):
    batch = rebuild_run(user=admin, subject=rebuild_subject(base="busybox"))
    item = batch.items.get(recipe=fleet["api"])
    first = item.build
    Build.objects.filter(pk=first.pk).update(status=Build.Status.RUNNING)
    assert RebuildItem.objects.get(pk=item.pk).status == RebuildItem.Status.BUILDING
    _succeeded(first, passed=False, published=False)
    assert RebuildItem.objects.get(pk=item.pk).status == RebuildItem.Status.BLOCKED
    with pytest.raises(RebuildError, match="only a recipe that failed"):
        rebuild_item_retry(user=admin, item=item)

    Build.objects.filter(pk=first.pk).update(status=Build.Status.FAILED, published_reference="")
    assert RebuildItem.objects.get(pk=item.pk).status == RebuildItem.Status.BUILD_FAILED
    retried = rebuild_item_retry(user=admin, item=item)

    assert retried.build_id != first.pk and retried.status == RebuildItem.Status.REQUESTED and retried.attempts == 2
    assert retried.build.reason == "base BusyBox rebuilt by pat"
    assert AuditEvent.objects.filter(action="curation.rebuild.retried", data__failed_build=first.pk).exists()


def test_a_recipe_that_failed_to_compose_builds_on_retry_once_it_composes(admin, fleet, runtime_user):
    ComponentVersion.objects.create(component=runtime_user.component, version="2", os_families=["busybox"],
                                    fragment="RUN true", final_fragment="USER {{ uid }}", parameters=STRICTER)
    batch = rebuild_run(user=admin, subject=rebuild_subject(component="runtime-user", upgrade=True))
    item = batch.items.get(recipe=fleet["api"])
    assert item.status == RebuildItem.Status.COMPOSE_FAILED
    RecipeComponent.objects.filter(recipe=fleet["api"]).update(values={"uid": "3000"})  # the team fixed its value

    retried = rebuild_item_retry(user=admin, item=item)
    assert retried.status == RebuildItem.Status.REQUESTED
    assert retried.build.reason == "component Non-root runtime user 1 -> 2 by pat"


@pytest.mark.parametrize("who", ["member", "reviewer"])
def test_only_platform_admins_plan_run_or_retry(fleet, member, reviewer, admin, who):
    user = {"member": member, "reviewer": reviewer}[who]
    subject = rebuild_subject(base="busybox")
    batch = rebuild_run(user=admin, subject=subject)
    for attempt in (lambda: rebuild_plan(user=user, subject=subject), lambda: rebuild_run(user=user, subject=subject),
                    lambda: rebuild_item_retry(user=user, item=batch.items.first())):
        with pytest.raises(Exception, match="Only platform admins"):
            attempt()
    assert RebuildBatch.objects.count() == 1


@pytest.mark.parametrize("arguments, message", [
    ({}, "either a base image or a component"),
    ({"base": "busybox", "component": "runtime-user"}, "either a base image or a component"),
    ({"base": "nope"}, "no base image nope"),
    ({"component": "nope"}, "no component nope"),
    ({"base": "busybox", "upgrade": True}, "Only a component can be moved"),
])
def test_it_refuses_a_subject_it_cannot_plan(busybox, runtime_user, arguments, message):
    with pytest.raises(RebuildError, match=message):
        rebuild_subject(**arguments)


def test_a_subject_nobody_uses_has_nothing_to_run(admin, busybox, runtime_user):
    with pytest.raises(RebuildError, match="No recipe uses base BusyBox: there is nothing to rebuild"):
        rebuild_run(user=admin, subject=rebuild_subject(base="busybox"))
    assert not RebuildBatch.objects.exists()
