"""A team's own Dockerfile on real parts (Celery worker, Docker Engine, registry): built from the
approved busybox, scanned and published; an unapproved FROM never reaches the engine; a published
image proposed and approved as a base is usable in FROM and passes the approved-base rule."""
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from builds.dockerfile.services import DockerfileError, recipe_save_dockerfile
from builds.models import Build, Recipe
from builds.services import build_request
from catalog.models import BaseImage
from compliance.policy.rules import ApprovedBase, rule_approved_base
from compliance.sbom.models import ImageFacts
from curation.proposals import base_approve, base_propose
from portal.models import GlobalRole
from tests.builds.team_scripts.test_packages import targz
from tests.conftest import run_in_image, wait_for_build
from tests.factories import UserFactory, with_role

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
HOST = settings.REGISTRY_URL.split("://", 1)[1]
MULTI_STAGE = (
    "ARG TAG\n"
    "FROM base/busybox:${TAG} AS build\n"
    "RUN echo built-in-stage-one > /built.txt\n"
    "FROM base/busybox:1.35\n"
    "COPY --from=build /built.txt /app/built.txt\n"
    "COPY hello.txt /app/hello.txt\n"
    "COPY --from=base/busybox:1.35 /etc/passwd /app/passwd-of-the-base\n"
    # a group of its own: a uid alone, without a passwd entry, would run with gid 0 and be blocked
    "USER 10001:10001\n"
)


def test_it_builds_scans_and_publishes_a_custom_dockerfile_from_the_approved_busybox(
        starter_catalog, celery_worker, team, member):
    busybox = BaseImage.objects.get(slug="busybox")
    context = SimpleUploadedFile("context.tar.gz", targz(("hello.txt", b"hello from the context\n"),
                                                          ("Dockerfile", b"FROM nginx\n")))
    recipe = recipe_save_dockerfile(user=member, team=team, name="own", dockerfile=MULTI_STAGE,
                                    build_args={"TAG": "1.35"}, context=context)
    build = wait_for_build(build_request(user=member, recipe=recipe))

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert f"FROM {HOST}/base/busybox@{busybox.digest} AS build" in build.dockerfile
    assert f"COPY --from={HOST}/base/busybox@{busybox.digest} /etc/passwd" in build.dockerfile
    assert build.log_chunks.filter(text__contains="Step 1/").exists()
    assert build.scan.status == "done"
    verdict = build.verdicts.get()
    assert verdict.passed, verdict.results
    rules = {r["rule"]: r["status"] for r in verdict.results}
    assert rules["approved-base"] == "pass" and rules["dockerfile-lint"] == "pass"
    assert build.published_reference.endswith(f"@{build.digest}")
    status, output = run_in_image(f"{HOST}/{settings.PUBLISHED_REPOSITORY_PREFIX}/{team.slug}/own@{build.digest}",
                                  ["sh", "-c", "cat /app/hello.txt /app/built.txt; id -u; cmp /etc/passwd /app/passwd-of-the-base && echo same"])
    assert status == 0, output
    assert output.split("\n")[:4] == ["hello from the context", "built-in-stage-one", "10001", "same"]


def test_it_refuses_an_unapproved_from_before_any_build(starter_catalog, celery_worker, team, member):
    with pytest.raises(DockerfileError) as refused:
        recipe_save_dockerfile(user=member, team=team, name="nginx", build_args={},
                               dockerfile="FROM base/busybox:1.35 AS ok\nFROM nginx:1.25\nUSER 10001\n")
    assert refused.value.lines == [{"line": 2, "message": refused.value.lines[0]["message"]}]
    assert "nginx:1.25 is not an approved base image" in refused.value.lines[0]["message"]
    assert not Recipe.objects.exists() and not Build.objects.exists()


def test_a_published_image_approved_as_a_base_is_usable_in_from_and_passes_the_layer_check(
        starter_catalog, celery_worker, team, member):
    admin = with_role(UserFactory(username="pat"), GlobalRole.Kind.PLATFORM_ADMIN)
    parent = recipe_save_dockerfile(user=member, team=team, name="tools", build_args={},
                                    dockerfile="FROM base/busybox:1.35\nRUN echo tools > /tools.txt\nUSER 10001:10001\n")
    parent_build = wait_for_build(build_request(user=member, recipe=parent))
    assert parent_build.published_reference, parent_build.error_message

    proposed = base_propose(user=member, build=parent_build, slug="payments-tools", name="Payments tools")
    with pytest.raises(DockerfileError, match="pending review"):
        recipe_save_dockerfile(user=member, team=team, name="child", build_args={},
                               dockerfile=f"FROM {proposed.repository}:{proposed.tag}\n")
    base = base_approve(user=admin, base=proposed)
    busybox = BaseImage.objects.get(slug="busybox")
    assert base.layer_digests[:len(busybox.layer_digests)] == busybox.layer_digests
    assert len(base.layer_digests) > len(busybox.layer_digests), "the custom base adds its own layer"

    child = recipe_save_dockerfile(user=member, team=team, name="child", build_args={},
                                   dockerfile=f"FROM {HOST}/{base.repository}:{base.tag}\nRUN cat /tools.txt\nUSER 10001:10001\n")
    assert child.base == base
    try:
        build = wait_for_build(build_request(user=member, recipe=child))
    finally:  # the worker pulled the custom base (labelled with the parent's build id): the engine keeps
        # pulled bases, but this one exists for this test only
        _remove_quietly(f"{HOST}/{base.repository}@{base.digest}")
    assert build.status == Build.Status.SUCCEEDED, build.error_message
    assert build.verdicts.get().passed
    facts = ImageFacts.from_dict(build.scan.facts)
    only_custom = rule_approved_base(facts, [ApprovedBase(f"{base.repository}@{base.digest}", base.layer_digests)])
    assert only_custom.status == "pass", only_custom.message


def _remove_quietly(reference):
    import docker

    try:
        docker.APIClient(version="auto").remove_image(reference)
    except docker.errors.APIError:
        pass
