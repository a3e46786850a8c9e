"""Dockerfile recipes: saved only when every FROM is approved, built from the pinned Dockerfile and
the checked context, with the same permission checks on pages and API."""
import io
import tarfile

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from builds.dockerfile.context import dockerfile_build_context, dockerfile_engine_options
from builds.dockerfile.services import DOCKERFILE_NAME, DockerfileError, build_args_parse, recipe_save_dockerfile
from builds.errors import CompositionError
from builds.models import Build, Recipe
from builds.services import build_request
from catalog.models import BaseImage, ProposalState
from portal.models import AuditEvent
from tests.builds.team_scripts.test_packages import targz
from tests.builds.test_api import api_for

pytestmark = pytest.mark.django_db
PINNED = "127.0.0.1:5000/base/busybox@sha256:" + "1" * 64
DOCKERFILE = "ARG TAG=1.35\nFROM base/busybox:${TAG}\nCOPY . /app\nUSER 10001\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def pending_base(db):
    return BaseImage.objects.create(slug="team-java", name="Team Java", repository="published/payments/java", tag="7",
                                    digest="sha256:" + "7" * 64, layer_digests=["sha256:" + "2" * 64], os_family="busybox",
                                    approved=False, proposal_state=ProposalState.PENDING)


def context_upload(*entries, name="context.tar.gz"):
    return SimpleUploadedFile(name, targz(*entries))


def save(member, team, dockerfile=DOCKERFILE, build_args=None, context=None, **kwargs):
    return recipe_save_dockerfile(user=member, team=team, name="own", dockerfile=dockerfile,
                                  build_args=build_args or {}, context=context, **kwargs)


def test_it_saves_a_dockerfile_recipe_whose_from_is_approved(member, team, busybox):  # noqa: F811
    recipe = save(member, team, context=context_upload(("app/run.sh", b"echo hi\n"), ("Dockerfile", b"FROM evil\n")))
    assert recipe.kind == Recipe.Kind.DOCKERFILE and recipe.base == busybox
    assert recipe.context_name == "context.tar.gz" and len(recipe.context_sha256) == 64
    event = AuditEvent.objects.get(action="recipe.saved")
    assert event.data["kind"] == "dockerfile" and event.data["bases"] == ["busybox"]


def test_it_refuses_an_unapproved_or_pending_base_before_saving(member, team, busybox, pending_base):  # noqa: F811
    with pytest.raises(DockerfileError) as refused:
        save(member, team, dockerfile="FROM base/busybox:1.35 AS a\nFROM nginx:1.25\nFROM published/payments/java:7\n")
    assert [line["line"] for line in refused.value.lines] == [2, 3]
    assert "pending review" in refused.value.lines[1]["message"]
    assert not Recipe.objects.exists()


def test_it_refuses_a_hostile_context_and_the_reserved_dockerfile_name(member, team, busybox):  # noqa: F811
    with pytest.raises(CompositionError, match="climbs out"):
        save(member, team, context=context_upload(("../../etc/passwd", b"x")))
    with pytest.raises(CompositionError, match="reserved|may not contain"):
        save(member, team, context=context_upload((DOCKERFILE_NAME, b"FROM evil\n")))
    with pytest.raises(CompositionError, match="not a tar.gz"):
        save(member, team, context=SimpleUploadedFile("context.tar.gz", b"plain text"))
    assert not Recipe.objects.exists()


def test_only_team_members_save(outsider, team, busybox):  # noqa: F811
    with pytest.raises(PermissionDenied):
        save(outsider, team)


def test_a_build_snapshots_the_pinned_dockerfile_and_hashes_args_and_context(member, team, busybox):  # noqa: F811
    recipe = save(member, team, build_args={"TAG": "1.35"}, context=context_upload(("a.txt", b"a")))
    build = build_request(user=member, recipe=recipe)
    assert build.dockerfile == f"ARG TAG=1.35\nFROM {PINNED}\nCOPY . /app\nUSER 10001\n"
    assert build.snapshot["kind"] == "dockerfile" and build.snapshot["build_args"] == {"TAG": "1.35"}
    assert build.snapshot["context"]["sha256"] == recipe.context_sha256
    assert dockerfile_engine_options(build) == {"dockerfile": DOCKERFILE_NAME, "buildargs": {"TAG": "1.35"}}
    first = build.composition_sha256
    save(member, team, build_args={}, recipe=recipe)
    assert build_request(user=member, recipe=recipe).composition_sha256 != first, "build args are part of the hash"
    save(member, team, build_args={"TAG": "1.35"}, context=context_upload(("a.txt", b"b")), recipe=recipe)
    assert build_request(user=member, recipe=recipe).composition_sha256 != first, "the context is part of the hash"


def test_the_context_sent_to_the_engine_holds_the_pinned_dockerfile_and_the_checked_files(member, team, busybox):  # noqa: F811
    recipe = save(member, team, context=context_upload(("app/run.sh", b"echo hi\n"), ("Dockerfile", b"FROM evil\n")))
    build = build_request(user=member, recipe=recipe)
    with tarfile.open(fileobj=io.BytesIO(dockerfile_build_context(build))) as tar:
        names = tar.getnames()
        assert tar.extractfile(DOCKERFILE_NAME).read().decode() == build.dockerfile
        assert tar.extractfile("app/run.sh").read() == b"echo hi\n"
    assert "Dockerfile" in names, "the archive's own Dockerfile is just a file of the context"


def test_a_build_is_refused_once_the_base_is_withdrawn(member, team, busybox):  # noqa: F811
    recipe = save(member, team)
    BaseImage.objects.filter(pk=busybox.pk).update(approved=False)
    with pytest.raises(DockerfileError, match="not approved"):
        build_request(user=member, recipe=recipe)
    assert not Build.objects.exists()


def test_build_args_text_is_read_line_by_line():
    assert build_args_parse("TAG=1.35\n# note\n\nEMPTY=\nURL=a=b\n") == {"TAG": "1.35", "EMPTY": "", "URL": "a=b"}
    for bad in ("no-equals", "BAD NAME=1", "A=1\nA=2"):
        with pytest.raises(CompositionError):
            build_args_parse(bad)


# -- pages ------------------------------------------------------------------------------
def test_the_page_shows_each_error_next_to_its_line(client, member, busybox):  # noqa: F811
    client.force_login(member)
    assert client.get(reverse("recipe-new-dockerfile")).status_code == 200
    response = client.post(reverse("recipe-dockerfile-check"), {"dockerfile": "FROM base/busybox:1.35\nADD http://x.example/a /a\n"})
    page = response.content.decode()
    assert 'id="dockerfile-line-2" value="2" class="has-error"' in page
    assert 'data-line="2">Line 2: ADD http://x.example/a downloads at build time' in page
    ok = client.post(reverse("recipe-dockerfile-check"), {"dockerfile": DOCKERFILE}).content.decode()
    assert PINNED in ok and "approved base <strong>busybox</strong>" in ok
    lint = client.post(reverse("recipe-dockerfile-check"), {"dockerfile": "FROM base/busybox:1.35\nWORKDIR app\nRUN sudo true\n"})
    assert "line 3 DL3004" in lint.content.decode(), "hadolint's errors show before the build, on the user's line"


def test_the_page_saves_builds_and_edits_a_dockerfile_recipe(client, member, busybox):  # noqa: F811
    client.force_login(member)
    refused = client.post(reverse("recipe-new-dockerfile"), {"team": "payments", "name": "own", "action": "save",
                                                              "dockerfile": "FROM scratch\n"})
    assert refused.status_code == 400 and "FROM scratch is not accepted" in refused.content.decode()
    response = client.post(reverse("recipe-new-dockerfile"), {
        "team": "payments", "name": "own", "action": "build", "dockerfile": DOCKERFILE, "build_args": "TAG=1.35",
        "context": SimpleUploadedFile("ctx.zip", _zip({"app/hello.txt": b"hello"}))})
    build = Build.objects.get()
    assert response.status_code == 302 and response.url == reverse("build-detail", args=[build.pk])
    assert build.recipe.context_name == "ctx.zip" and build.snapshot["build_args"] == {"TAG": "1.35"}
    edit = client.get(reverse("recipe-edit", args=[build.recipe.pk])).content.decode()
    assert 'id="dockerfile"' in edit and "FROM base/busybox:${TAG}" in edit
    detail = client.get(reverse("recipe-detail", args=[build.recipe.pk])).content.decode()
    assert "Own Dockerfile" in detail and "ctx.zip" in detail


def test_anonymous_users_are_sent_to_login(client, build_of_own):
    for url in [reverse("recipe-new-dockerfile"), reverse("recipe-edit", args=[build_of_own.recipe.pk])]:
        assert client.get(url).url.startswith(reverse("login")), url
    for url in [reverse("recipe-dockerfile-check"), reverse("build-propose-base", args=[build_of_own.pk])]:
        assert client.post(url).url.startswith(reverse("login")), url
    assert client.post("/api/dockerfile-recipes/check/", {"dockerfile": DOCKERFILE}).status_code == 401


def test_the_error_summary_links_each_problem_to_its_line(client, member, busybox):  # noqa: F811
    client.force_login(member)
    page = client.post(reverse("recipe-new-dockerfile"), {"team": "payments", "name": "own", "action": "save",
                                                           "dockerfile": "FROM base/busybox:1.35\nFROM nginx\n"}).content.decode()
    assert '<a href="#dockerfile-line-2">Dockerfile line 2: FROM: nginx:latest is not an approved base image' in page


@pytest.fixture
def build_of_own(member, team, busybox):  # noqa: F811
    return build_request(user=member, recipe=save(member, team))


def test_outsiders_and_reviewers_cannot_save_or_edit(client, member, team, outsider, reviewer, busybox):  # noqa: F811
    recipe = save(member, team)
    client.force_login(outsider)
    assert client.get(reverse("recipe-edit", args=[recipe.pk])).status_code == 404
    client.force_login(reviewer)
    response = client.post(reverse("recipe-new-dockerfile"), {"team": "payments", "name": "x", "action": "save", "dockerfile": DOCKERFILE})
    assert response.status_code == 400 and "not in any team" in response.content.decode()
    assert Recipe.objects.count() == 1


def _zip(files):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# -- API --------------------------------------------------------------------------------
def test_the_api_checks_creates_and_builds_with_line_errors(member, busybox):  # noqa: F811
    api = api_for(member)
    check = api.post("/api/dockerfile-recipes/check/", {"dockerfile": "FROM alpine:3\nRUN --mount=type=cache true\n"}, format="json")
    assert check.status_code == 400
    assert [e["line"] for e in check.json()["lines"]] == [1, 2]
    good = api.post("/api/dockerfile-recipes/check/", {"dockerfile": DOCKERFILE, "build_args": {"TAG": "1.35"}}, format="json")
    assert good.status_code == 200 and good.json()["stages"][0]["base_slug"] == "busybox"
    created = api.post("/api/dockerfile-recipes/", {
        "team": "payments", "name": "own", "dockerfile": DOCKERFILE, "build_args": '{"TAG": "1.35"}',
        "context": SimpleUploadedFile("c.tar.gz", targz(("a.txt", b"a")))}, format="multipart")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["kind"] == "dockerfile" and body["base"] == "busybox" and body["build_args"] == {"TAG": "1.35"}
    build = api.post(f"/api/recipes/{body['id']}/build/")
    assert build.status_code == 201 and PINNED in build.json()["dockerfile"]
    updated = api.put(f"/api/dockerfile-recipes/{body['id']}/", {"dockerfile": "FROM base/busybox:1.35\nUSER 1\n"}, format="json")
    assert updated.status_code == 200 and updated.json()["dockerfile"].startswith("FROM base/busybox:1.35")


def test_the_api_applies_the_same_permissions(member, team, outsider, reviewer, busybox):  # noqa: F811
    recipe = save(member, team)
    payload = {"team": "payments", "name": "x", "dockerfile": DOCKERFILE}
    assert api_for(outsider).post("/api/dockerfile-recipes/", payload, format="json").status_code == 403
    assert api_for(outsider).put(f"/api/dockerfile-recipes/{recipe.pk}/", payload, format="json").status_code == 404
    assert api_for(reviewer).put(f"/api/dockerfile-recipes/{recipe.pk}/", payload, format="json").status_code == 403
    assert api_for(reviewer).get(f"/api/dockerfile-recipes/{recipe.pk}/").status_code == 200
    hostile = api_for(member).post("/api/dockerfile-recipes/", {**payload, "build_args": ["not", "a", "dict"]}, format="json")
    assert hostile.status_code == 400 and "JSON object" in str(hostile.json())
    surrogate = api_for(member).post("/api/dockerfile-recipes/check/", data='{"dockerfile": "FROM base/busybox:1.35\\ud800"}',
                                     content_type="application/json")
    assert surrogate.status_code == 400 and "Surrogate characters are not allowed" in str(surrogate.json())


def test_the_schema_names_the_new_endpoints(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in ["/api/dockerfile-recipes/", "/api/dockerfile-recipes/check/", "/api/dockerfile-recipes/{id}/",
                 "/api/catalog/base-proposals/", "/api/catalog/base-proposals/{slug}/approve/",
                 "/api/catalog/base-proposals/{slug}/reject/"]:
        assert path in paths, path


ONBUILD = "FROM base/busybox:1.35\nUSER 10001:10001\nONBUILD RUN chmod 4755 /bin/busybox\n"
# dockerfile-parse reads the ADD as part of the RUN (Python's \s), the engine as an instruction.
HIDDEN_ADD = "FROM base/busybox:1.35\nUSER 10001:10001\nRUN true \\\u00a0\nADD http://169.254.169.254/m /m\n"


@pytest.mark.parametrize("refused_text, message", [
    (ONBUILD, "ONBUILD is not accepted"),
    (HIDDEN_ADD, "the line ends in a no-break space"),
])
def test_a_refused_instruction_is_refused_with_its_line_at_every_door_and_for_a_recipe_saved_before(
        client, member, team, busybox, refused_text, message):  # noqa: F811
    with pytest.raises(DockerfileError) as refused:
        save(member, team, dockerfile=refused_text)
    assert refused.value.lines[0]["line"] == 3 and message in refused.value.lines[0]["message"]
    api = api_for(member)
    created = api.post("/api/dockerfile-recipes/", {"team": "payments", "name": "own", "dockerfile": refused_text},
                       format="json")
    assert created.status_code == 400 and message in str(created.json())
    recipe = save(member, team, dockerfile="FROM base/busybox:1.35\nUSER 10001:10001\n")
    updated = api.put(f"/api/dockerfile-recipes/{recipe.pk}/", {"dockerfile": refused_text}, format="json")
    assert updated.status_code == 400
    recipe.refresh_from_db()
    assert recipe.dockerfile == "FROM base/busybox:1.35\nUSER 10001:10001\n", "the refused edit changed nothing"
    client.force_login(member)
    page = client.post(reverse("recipe-dockerfile-check"), {"dockerfile": refused_text}).content.decode()
    assert f'data-line="3">Line 3: {message}' in page
    # A recipe stored before the Dockerfile was refused is resolved again when a build is requested.
    Recipe.objects.filter(pk=recipe.pk).update(dockerfile=refused_text)
    recipe.refresh_from_db()
    with pytest.raises(DockerfileError, match=message):
        build_request(user=member, recipe=recipe)
    assert not Build.objects.exists()
