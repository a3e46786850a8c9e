"""A build the policy is known to block asks first at every page door (the custom-Dockerfile form and
the recipe page's Build button, as the option builder does): nothing is saved or built until the
user confirms. The API builds without asking and says what is expected to fail."""
import pytest
from django.urls import reverse

from builds.dockerfile.services import recipe_save_dockerfile
from builds.models import Build, Recipe
from builds.recipes.services import recipe_save
from portal.models import AuditEvent
from tests.builds.test_api import api_for

pytestmark = pytest.mark.django_db
TOKEN = "ghp_R8xv2Lm9Qp4Tz7Wc1Yb6Nd3Kf5Hj0Sa2Ue8G"
ROOT_WITH_SECRET = f"FROM base/busybox:1.35\nARG GITHUB_TOKEN={TOKEN}\nRUN true\n"  # no USER: root
GOOD = "FROM base/busybox:1.35\nRUN true\nUSER 10001\n"


def confirm_panel(response) -> str:
    page = response.content.decode()
    assert 'id="confirm-blocked"' in page, "no confirmation asked"
    return page.split('id="confirm-blocked"', 1)[1].split("</div>", 1)[0]


def test_the_dockerfile_form_shows_the_expected_failures_with_their_reasons(client, member, busybox):
    client.force_login(member)
    check = client.post(reverse("recipe-dockerfile-check"), {"team": "payments", "dockerfile": ROOT_WITH_SECRET},
                        HTTP_HX_REQUEST="true").content.decode()
    expected = check.split('id="expected-checks"', 1)[1].split("</ul>", 1)[0]
    assert "✗ Fail · <strong>Non-root user</strong>" in expected and "No USER in the final stage" in expected
    assert "✗ Fail · <strong>No secrets in files, labels or history</strong>" in expected and "line 2 (github-token)" in expected
    assert TOKEN[:10] not in expected, "the reason never repeats the secret"
    assert "2 policy checks expected to fail" in check.split('id="sr-status"', 1)[1]
    assert "Non-root user</strong> <span class=\"muted\">runs as uid 10001" in client.post(
        reverse("recipe-dockerfile-check"), {"dockerfile": GOOD}).content.decode()


def test_save_and_build_of_a_dockerfile_the_policy_blocks_asks_first_and_saves_nothing(client, member, busybox):
    client.force_login(member)
    data = {"team": "payments", "name": "rooty", "dockerfile": ROOT_WITH_SECRET, "action": "build"}
    asked = client.post(reverse("recipe-new-dockerfile"), data)
    panel = confirm_panel(asked)
    assert asked.status_code == 200 and "Non-root user" in panel and "No secrets in files, labels or history" in panel
    assert "Build anyway" in panel and TOKEN in asked.content.decode(), "what was typed is kept in the form"
    assert not Recipe.objects.exists() and not Build.objects.exists(), "nothing saved or built yet"

    built = client.post(reverse("recipe-new-dockerfile"), {**data, "action": "build-anyway"})
    build = Build.objects.get(recipe__name="rooty")
    assert built.status_code == 302 and built.url == reverse("build-detail", args=[build.pk])
    requested = AuditEvent.objects.get(action="build.requested", target_id=str(build.pk))
    assert set(requested.data["expected_failures"]) == {"non-root-user", "no-secrets-in-layers"}


def test_saving_without_building_and_a_passing_dockerfile_ask_nothing(client, member, busybox):
    client.force_login(member)
    saved = client.post(reverse("recipe-new-dockerfile"), {"team": "payments", "name": "draft", "action": "save",
                                                           "dockerfile": ROOT_WITH_SECRET})
    assert saved.status_code == 302 and Recipe.objects.filter(name="draft").exists() and not Build.objects.exists()
    built = client.post(reverse("recipe-new-dockerfile"), {"team": "payments", "name": "fine", "action": "build", "dockerfile": GOOD})
    assert built.status_code == 302 and Build.objects.filter(recipe__name="fine").count() == 1


def test_editing_a_dockerfile_into_one_the_policy_blocks_asks_and_keeps_the_saved_text(client, member, team, busybox):
    recipe = recipe_save_dockerfile(user=member, team=team, name="own", dockerfile=GOOD, build_args={})
    client.force_login(member)
    asked = client.post(reverse("recipe-edit", args=[recipe.pk]), {"dockerfile": "FROM base/busybox:1.35\nUSER root\n",
                                                                   "action": "build"})
    assert "Non-root user" in confirm_panel(asked)
    recipe.refresh_from_db()
    assert recipe.dockerfile == GOOD and not Build.objects.exists()


@pytest.fixture
def rooty(member, team, busybox):
    """A composed recipe without the non-root user option: its image runs as root."""
    return recipe_save(user=member, team=team, name="rooty", base=busybox, choices=[])


def test_the_recipe_pages_build_button_asks_on_a_page_of_its_own_then_builds(client, member, rooty):
    client.force_login(member)
    asked = client.post(reverse("recipe-build", args=[rooty.pk]), {"no_cache": "1"})
    assert asked.status_code == 200 and "Build payments/rooty anyway?" in asked.content.decode()
    assert "tick &#x27;Non-root runtime user&#x27;" in asked.content.decode(), "each failure with its reason"
    assert "Build anyway" in confirm_panel(asked) and 'name="confirm" value="1"' in asked.content.decode()
    assert 'name="no_cache" value="1"' in asked.content.decode(), "the confirmation keeps what was asked"
    assert not Build.objects.exists()

    built = client.post(reverse("recipe-build", args=[rooty.pk]), {"no_cache": "1", "confirm": "1"})
    build = Build.objects.get()
    assert built.status_code == 302 and built.url == reverse("build-detail", args=[build.pk]) and build.no_cache
    assert AuditEvent.objects.get(action="build.requested", target_id=str(build.pk)).data["expected_failures"] == ["non-root-user"]


def test_a_dockerfile_recipe_built_from_its_page_asks_too(client, member, team, busybox):
    recipe = recipe_save_dockerfile(user=member, team=team, name="own", dockerfile=ROOT_WITH_SECRET, build_args={})
    client.force_login(member)
    asked = client.post(reverse("recipe-build", args=[recipe.pk]))
    assert "line 2 (github-token)" in asked.content.decode() and not Build.objects.exists()


def test_a_recipe_the_policy_passes_builds_at_once(client, member, recipe):
    client.force_login(member)
    response = client.post(reverse("recipe-build", args=[recipe.pk]))
    assert response.status_code == 302 and Build.objects.count() == 1


def test_only_the_team_is_asked_others_get_no_confirmation_and_no_build(client, rooty, outsider, reviewer):
    client.force_login(outsider)
    assert client.post(reverse("recipe-build", args=[rooty.pk]), {"confirm": "1"}).status_code == 404
    client.force_login(reviewer)  # may read the recipe, not build it: refused before anything is worked out
    refused = client.post(reverse("recipe-build", args=[rooty.pk]))
    assert refused.status_code == 403 and "confirm-blocked" not in refused.content.decode()
    assert not Build.objects.exists()


def test_the_api_builds_without_asking_and_answers_with_the_expected_failures(member, rooty, recipe):
    api = api_for(member)
    blocked = api.post(f"/api/recipes/{rooty.pk}/build/", {}, format="json")
    assert blocked.status_code == 201 and Build.objects.filter(recipe=rooty).count() == 1
    [failure] = blocked.json()["expected_failures"]
    assert failure["rule"] == "non-root-user" and failure["title"] == "Non-root user" and "Non-root runtime user" in failure["detail"]
    passing = api.post(f"/api/recipes/{recipe.pk}/build/", {}, format="json")
    assert passing.status_code == 201 and passing.json()["expected_failures"] == []
    assert "expected_failures" not in api.get(f"/api/builds/{passing.json()['id']}/").json(), "only the request's answer"
