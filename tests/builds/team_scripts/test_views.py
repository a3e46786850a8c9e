"""Pages for shared team scripts and build settings: members write, reviewers read, outsiders see nothing."""
import pytest
from django.urls import reverse

from builds.models import TeamScript, TeamScriptVersion
from tests.builds.team_scripts.test_api import CLEAN, HOSTILE
from tests.builds.team_scripts.test_packages import save, targz

pytestmark = pytest.mark.django_db


def create(client, text=CLEAN, name="prep"):
    return client.post(reverse("team-script-list"), {"team": "payments", "name": name, "kind": "build-env", "text": text})


def test_it_saves_a_script_and_shows_it(client, member):
    client.force_login(member)
    response = create(client)
    script = TeamScript.objects.get()
    assert response.status_code == 302 and response.url == reverse("team-script-detail", args=[script.pk])
    assert "prep" in client.get(reverse("team-script-list")).content.decode()
    page = client.get(response.url).content.decode()
    assert "Version 1" in page and "echo built &gt; dist/out.txt" in page and "Save a new version" in page


def test_check_errors_refuse_the_save_and_say_why(client, member):
    client.force_login(member)
    response = create(client, HOSTILE)
    page = response.content.decode()
    assert response.status_code == 400 and "was not saved" in page and "evil.example" in page and "pipe-to-shell" in page
    assert not TeamScript.objects.exists()


@pytest.mark.parametrize("who, read, write", [("member", 200, 302), ("outsider", 404, 404), ("reviewer", 200, 403)])
def test_permissions_per_role(client, member, outsider, reviewer, who, read, write):
    client.force_login(member)
    create(client)
    script = TeamScript.objects.get()
    client.force_login({"member": member, "outsider": outsider, "reviewer": reviewer}[who])
    url = reverse("team-script-detail", args=[script.pk])
    assert client.get(url).status_code == read
    assert client.post(url, {"text": CLEAN + "echo v2\n"}).status_code == write
    assert create(client, name="other").status_code == write
    assert TeamScriptVersion.objects.count() == (3 if who == "member" else 1)
    assert (url in client.get(reverse("team-script-list")).content.decode()) == (read == 200)


def test_the_recipe_page_sets_build_settings_and_promotes_the_package_script(client, member, team, busybox, runtime_user):  # noqa: F811
    recipe = save(member, team, busybox, runtime_user, targz(("app-1.0/.paas/build-env.sh", CLEAN.encode())))
    client.force_login(member)
    page = client.get(reverse("recipe-detail", args=[recipe.pk])).content.decode()
    assert "Promote to team script" in page and "Save build settings" in page

    url = reverse("recipe-build-settings", args=[recipe.pk])
    client.post(url, {"build_command": "make dist; $(id)", "build_output": "dist"})
    recipe.refresh_from_db()
    assert recipe.build_command == ["sh", "-c", "make dist; $(id)"] and recipe.build_output == "dist"
    refused = client.post(url, {"build_command": "make", "build_output": "../x"}, follow=True).content.decode()
    assert "Build settings not saved" in refused
    recipe.refresh_from_db()
    assert recipe.build_output == "dist"

    response = client.post(reverse("recipe-promote-script", args=[recipe.pk]), {"kind": "build-env", "name": "svc-prep"})
    script = TeamScript.objects.get(name="svc-prep")
    assert response.url == reverse("team-script-detail", args=[script.pk])
    recipe.refresh_from_db()
    assert recipe.shared_build_script == script
    assert "svc-prep" in client.get(reverse("recipe-detail", args=[recipe.pk])).content.decode()


def test_outsiders_and_reviewers_cannot_change_a_recipes_build_settings(client, recipe, outsider, reviewer):  # noqa: F811
    for user, status in ((outsider, 404), (reviewer, 403)):
        client.force_login(user)
        assert client.post(reverse("recipe-build-settings", args=[recipe.pk]), {"build_command": "make"}).status_code == status
        assert client.post(reverse("recipe-promote-script", args=[recipe.pk]), {"kind": "build-env", "name": "x"}).status_code == status
    recipe.refresh_from_db()
    assert recipe.build_command == [] and not TeamScript.objects.exists()
