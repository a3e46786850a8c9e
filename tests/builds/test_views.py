"""Pages: login everywhere, teams see only their own, reviewers see all; the builder previews and saves."""
import html

import pytest
from django.urls import reverse

from builds.models import Build, BuildLogChunk, Recipe

pytestmark = pytest.mark.django_db


def test_it_sends_anonymous_users_to_login(client, build):
    for url in [reverse("home"), reverse("recipe-new"), reverse("build-detail", args=[build.pk]), reverse("build-list")]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url


@pytest.mark.parametrize("who, status", [("member", 200), ("outsider", 404), ("reviewer", 200)])
def test_it_shows_a_build_only_to_its_team_and_reviewers(client, build, member, outsider, reviewer, who, status):
    client.force_login({"member": member, "outsider": outsider, "reviewer": reviewer}[who])
    for name in ["build-detail", "build-live", "build-log-raw", "build-dockerfile"]:
        assert client.get(reverse(name, args=[build.pk])).status_code in ((status, 286) if name == "build-live" else (status,)), name
    assert client.get(reverse("recipe-detail", args=[build.recipe.pk])).status_code == status


def test_it_lets_only_team_members_start_a_build(client, recipe, outsider, reviewer):
    for user in (outsider, reviewer):
        client.force_login(user)
        response = client.post(reverse("recipe-build", args=[recipe.pk]))
        assert response.status_code in (403, 404) or Build.objects.count() == 0
    assert Build.objects.count() == 0


def test_it_previews_the_exact_dockerfile_that_the_build_records(client, member, busybox, runtime_user):
    client.force_login(member)
    data = {"team": "payments", "name": "pay-api", "base": "busybox", "component": ["runtime-user"],
            "param-runtime-user-uid": "12000"}
    preview = client.post(reverse("recipe-preview"), data)
    assert preview.status_code == 200
    assert "USER 12000" in preview.content.decode()
    response = client.post(reverse("recipe-new"), {**data, "action": "build"})
    assert response.status_code == 302
    build = Build.objects.get()
    assert response.url == reverse("build-detail", args=[build.pk])
    assert build.dockerfile in html.unescape(preview.content.decode())
    assert build.composition_sha256[:12] in preview.content.decode()


def test_it_shows_every_problem_in_an_error_summary_and_keeps_what_was_typed(client, member, busybox, runtime_user):
    client.force_login(member)
    response = client.post(reverse("recipe-new"), {"team": "payments", "name": "Bad Name!", "base": "busybox",
                                                   "component": ["runtime-user"], "param-runtime-user-uid": "0"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in page
    assert "lower-case letters" in page.lower()
    assert "must be between 1000 and 65000" in page
    assert 'value="Bad Name!"' in page
    assert Recipe.objects.count() == 0


def test_it_stops_polling_once_the_build_is_done(client, build, member):
    client.force_login(member)
    running = client.get(reverse("build-live", args=[build.pk]) + "?after=-1")
    assert running.status_code == 200 and 'hx-trigger="every 1s"' in running.content.decode()
    Build.objects.filter(pk=build.pk).update(status=Build.Status.FAILED, error_message="boom")
    done = client.get(reverse("build-live", args=[build.pk]) + "?after=-1")
    assert done.status_code == 286
    assert "hx-trigger" not in done.content.decode()
    assert "boom" in done.content.decode()


def test_it_refuses_publication_without_a_passing_verdict(client, build, member):
    client.force_login(member)
    response = client.post(reverse("build-publish", args=[build.pk]), follow=True)
    assert "never pushed" in response.content.decode() or "no compliance verdict" in response.content.decode()
    build.refresh_from_db()
    assert build.published_reference == ""


def test_it_edits_a_recipe_keeping_its_team_and_name(client, recipe, member, runtime_user):
    client.force_login(member)
    page = client.get(reverse("recipe-edit", args=[recipe.pk])).content.decode()
    assert 'value="pay-api"' in page and 'name="param-runtime-user-uid" value="10001"' in page
    response = client.post(reverse("recipe-edit", args=[recipe.pk]), {
        "name": "renamed", "base": "busybox", "component": ["runtime-user"], "param-runtime-user-uid": "20000",
        "action": "save"})
    assert response.status_code == 302
    recipe.refresh_from_db()
    assert recipe.name == "pay-api"
    assert recipe.choices.get().values == {"uid": "20000"}


def test_it_lets_only_the_team_edit_a_recipe(client, recipe, outsider, reviewer):
    client.force_login(outsider)
    assert client.get(reverse("recipe-edit", args=[recipe.pk])).status_code == 404
    client.force_login(reviewer)
    assert client.get(reverse("recipe-edit", args=[recipe.pk])).status_code == 403


def test_it_only_previews_when_javascript_is_off_and_update_preview_is_pressed(client, member, busybox, runtime_user):
    client.force_login(member)
    response = client.post(reverse("recipe-new"), {"team": "payments", "name": "x", "base": "busybox", "action": "preview"})
    assert response.status_code == 200 and "FROM 127.0.0.1:5000/base/busybox" in response.content.decode()
    assert Recipe.objects.count() == 0


def test_it_shows_the_failure_with_the_log_tail_and_a_retry(client, build, member):
    from builds.logs import build_log_append

    build_log_append(build=build, step="build", lines=[f"line {n}" for n in range(30)])
    Build.objects.filter(pk=build.pk).update(status=Build.Status.FAILED, error_message="apt failed",
                                             failed_step="Step 2/5 : RUN apt-get install nope", error_code="build:user:step-failed")
    client.force_login(member)
    page = client.get(reverse("build-detail", args=[build.pk])).content.decode()
    assert "Build failed at “Step 2/5 : RUN apt-get install nope”" in page
    assert "line 29" in page and "line 9\n" not in page.split("Last lines of the log")[1].split("</pre>")[0]
    assert reverse("recipe-build", args=[build.recipe.pk]) in page


def test_it_keeps_the_tail_of_a_log_that_passes_the_size_cap(build, settings):
    from builds.logs import build_log_append

    settings.BUILD_LOG_MAX_BYTES = 2000
    for batch in range(20):
        build_log_append(build=build, step="build", lines=[f"batch {batch} line {n:03d} " + "x" * 40 for n in range(5)])
    build.refresh_from_db()
    text = "".join(build.log_chunks.order_by("seq").values_list("text", flat=True))
    assert build.log_bytes == len(text) <= 2000
    assert "batch 19 line 004" in text and "batch 0 line" not in text
    assert build.log_dropped_lines + text.count("\n") == build.log_lines == 100


def test_a_built_image_the_policy_blocks_does_not_read_as_a_green_success(client, build, member):
    from compliance.models import Verdict

    Build.objects.filter(pk=build.pk).update(status=Build.Status.SUCCEEDED, steps={
        name: {"status": "done"} for name in Build.STEPS})
    Verdict.objects.create(build=build, passed=False, results=[
        {"rule": "non-root-user", "title": "Non-root runtime user", "status": "fail", "message": "Runs as root"}])
    client.force_login(member)
    page = client.get(reverse("build-detail", args=[build.pk])).content.decode()
    header = page.split('id="build-header"', 1)[1].split("</p>", 1)[0]
    assert "blocked by policy" in header and "Succeeded" not in header
    steps = page.split('id="build-steps"', 1)[1].split("</nav>", 1)[0]
    assert 'step step-blocked' in steps and steps.count("step-done") == len(Build.STEPS) - 1
    # once a later verdict passes (an exception, a fix), both read as done again
    Verdict.objects.create(build=build, passed=True, results=[])
    page = client.get(reverse("build-detail", args=[build.pk])).content.decode()
    assert "blocked by policy" not in page.split('id="build-header"', 1)[1].split("</p>", 1)[0]
    assert page.split('id="build-steps"', 1)[1].split("</nav>", 1)[0].count("step-done") == len(Build.STEPS)


def test_a_blocked_build_offers_edit_rebuild_and_an_exception_for_its_failing_rule(client, build, member):
    from compliance.models import Verdict

    Build.objects.filter(pk=build.pk).update(status=Build.Status.SUCCEEDED)
    Verdict.objects.create(build=build, passed=False, results=[
        {"rule": "non-root-user", "title": "Non-root runtime user", "status": "fail", "message": "Runs as root"}])
    client.force_login(member)
    page = client.get(reverse("build-detail", args=[build.pk])).content.decode()
    assert reverse("recipe-edit", args=[build.recipe.pk]) in page
    assert f'action="{reverse("recipe-build", args=[build.recipe.pk])}"' in page
    assert f'{reverse("exception-new")}?build={build.pk}&amp;target_kind=rule&amp;target=non-root-user' in page


def test_the_log_renders_colours_and_drops_other_terminal_control_sequences(client, build, member):
    BuildLogChunk.objects.create(build=build, seq=0, first_line=1, step="build",
                                 text="\x1b[1;32m#5 DONE 0.3s\x1b[0m\n\x1b]0;window-caption-42\x07plain\x1b[2K\n"
                                      "\x1b]8;;https://example.org\x1b\\a link\x1b]8;;\x1b\\ \x1b[31m<script>x</script>\x1b[0m\n")
    client.force_login(member)
    page = client.get(reverse("build-detail", args=[build.pk])).content.decode()
    assert '<span class="ansi1 ansi32">#5 DONE 0.3s</span>' in page, "colour and weight rendered"
    assert "plain" in page and "a link" in page, "the text around dropped sequences stays"
    assert "\x1b" not in page and "[1;32m" not in page and "[2K" not in page and "window-caption-42" not in page
    assert '<span class="ansi31">&lt;script&gt;x&lt;/script&gt;</span>' in page and "<script>x" not in page, "text stays escaped"
    assert "\x1b[1;32m" in client.get(reverse("build-log-raw", args=[build.pk])).content.decode(), "the raw log keeps them"


def test_a_new_image_starts_with_the_non_root_user_ticked(client, member, busybox, runtime_user):
    client.force_login(member)
    page = client.get(reverse("recipe-new")).content.decode()
    assert 'value="runtime-user" checked' in page
    # a link that names the components (a copy of another recipe, a reload) is taken as it is
    assert 'value="runtime-user" checked' not in client.get(reverse("recipe-new"), {"component": ""}).content.decode()


def test_the_header_and_steps_say_how_long_in_seconds_not_0_minutes(client, build, member):
    import datetime
    import re

    from django.utils import timezone

    started = timezone.now() - datetime.timedelta(seconds=42)
    Build.objects.filter(pk=build.pk).update(status=Build.Status.RUNNING, started=started, current_step="build", steps={
        "compose": {"status": "done", "started": started.isoformat(),
                    "finished": (started + datetime.timedelta(seconds=3)).isoformat()},
        "build": {"status": "running", "started": (started + datetime.timedelta(seconds=3)).isoformat()}})
    client.force_login(member)
    page = client.get(reverse("build-detail", args=[build.pk])).content.decode()
    assert re.search(r"running for <time[^>]*>4[2-9] s</time>", page), "seconds, not '0 minutes'"
    steps = page.split('id="build-steps"', 1)[1].split("</nav>", 1)[0]
    assert '<small class="muted step-time">3 s</small>' in steps
    assert re.search(r'<small class="muted step-time">(39|4\d) s</small>', steps), "the running step so far"


def test_the_builds_list_filters_by_team_and_exports_the_same_rows_as_csv(client, build, member, reviewer, other_team):
    import csv
    import io

    other_recipe = Recipe.objects.create(team=other_team, name="other-app", base=build.recipe.base, created_by=member)
    other = Build.objects.create(recipe=other_recipe, team=other_team, requested_by=member, status=Build.Status.FAILED,
                                 composition_sha256="9" * 64, dockerfile="FROM x\n", error_code="build:user:step-failed")
    client.force_login(reviewer)

    def rows(**filters):
        response = client.get(reverse("build-list"), {**filters, "format": "csv"})
        return list(csv.DictReader(io.StringIO(response.content.decode())))

    assert {int(r["build"]) for r in rows()} == {build.pk, other.pk}
    assert [int(r["build"]) for r in rows(team=other_team.slug)] == [other.pk]
    assert rows(status="failed")[0]["error_code"] == "build:user:step-failed"
    page = client.get(reverse("build-list"), {"team": other_team.slug}).content.decode()
    assert f"#{other.pk}</a>" in page and f"#{build.pk}</a>" not in page
    assert 'href="?team=' in page and "format=csv" in page
    client.force_login(member)  # the member of `team` only: the other team's builds are not theirs to export
    assert {int(r["build"]) for r in rows(team=other_team.slug)} == {build.pk}


def test_the_preview_shows_the_uploaded_artifacts_own_checksum_never_zeros(client, member, busybox, runtime_user):
    import hashlib

    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(member)
    content = b"#!/bin/sh\necho hello\n"
    data = {"team": "payments", "name": "with-file", "base": "busybox", "component": ["runtime-user"],
            "param-runtime-user-uid": "10001", "action": "preview"}
    sent = client.post(reverse("recipe-preview"), {**data, "artifact": SimpleUploadedFile("app.sh", content)}).content.decode()
    assert f"sha256:{hashlib.sha256(content).hexdigest()}" in sent and "0" * 64 not in sent


def test_building_an_image_the_policy_will_block_asks_first(client, member, busybox, runtime_user):
    client.force_login(member)
    data = {"team": "payments", "name": "rooty", "base": "busybox", "action": "build"}  # no non-root user
    asked = client.post(reverse("recipe-new"), data)
    assert asked.status_code == 200 and "The policy will block this image" in asked.content.decode()
    assert "Non-root user" in asked.content.decode().split('id="confirm-blocked"', 1)[1]
    assert not Recipe.objects.filter(name="rooty").exists() and not Build.objects.exists(), "nothing saved or built yet"
    built = client.post(reverse("recipe-new"), {**data, "action": "build-anyway"})
    assert built.status_code == 302 and Build.objects.filter(recipe__name="rooty").count() == 1
