"""The expected checks read what the Dockerfile already tells with the image rules' own detection, so
a credential in ENV, in an ARG or a RUN line the history keeps, a root runtime user and hadolint's
errors are flagged before the build, not only after the scan; the team's rules decide what shows."""
import pytest

from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage
from compliance.door import checks_expected, dockerfile_checks_expected, expected_failures
from compliance.models import PolicyRule, Verdict

pytestmark = pytest.mark.django_db
TOKEN = "ghp_R8xv2Lm9Qp4Tz7Wc1Yb6Nd3Kf5Hj0Sa2Ue8G"


def env_row(dockerfile: str, team=None, base=None):
    rows = checks_expected(team=team, base=base, component_slugs={"runtime-user"}, runtime={}, dockerfile=dockerfile)
    return next(row for row in rows if row.rule == "no-secrets-in-env")


def own(dockerfile: str, base, team=None, build_args=None):
    """The checks of a team's own Dockerfile, by rule kind."""
    rows = dockerfile_checks_expected(team=team, base=base, dockerfile=dockerfile, build_args=build_args or {}, runtime={})
    return {row.rule: row for row in rows}


def test_a_token_in_an_env_line_is_expected_to_fail_before_the_build(busybox):
    state, detail = env_row(f"FROM base/busybox\nENV TZ=Europe/Paris API_TOKEN={TOKEN}\n", base=busybox)[1::2]
    assert state == "fail" and "API_TOKEN" in detail and "ghp_R8xv2Lm9" not in detail


def test_plain_env_lines_are_expected_to_pass_and_no_dockerfile_is_unknown(busybox):
    assert env_row("FROM base/busybox\nENV TZ=Europe/Paris LANG=C.UTF-8\n", base=busybox).state == "pass"
    assert env_row("", base=busybox).state == "unknown"


def test_a_root_runtime_user_is_an_expected_failure_with_its_line_and_the_fix(busybox):
    for dockerfile, says in [("FROM base/busybox\nRUN true\n", "No USER in the final stage"),
                             ("FROM base/busybox\nUSER root\n", "USER root (line 2) runs the image as root"),
                             ("FROM base/busybox\nUSER 10001\nUSER 0:0\n", "USER 0:0 (line 3)"),
                             ("FROM base/busybox\nARG RUNNER=00\nUSER $RUNNER\n", "USER $RUNNER (line 3)"),
                             ("FROM base/busybox AS app\nUSER 1000\nFROM base/busybox\nCOPY --from=app /x /x\n", "No USER")]:
        check = own(dockerfile, busybox)["non-root-user"]
        assert check.state == "fail" and says in check.detail and "USER 10001" in check.detail, dockerfile
    assert own("FROM base/busybox\nUSER 10001\n", busybox)["non-root-user"].state == "pass"
    assert own("FROM base/busybox AS app\nUSER app\nFROM app\n", busybox)["non-root-user"].state == "pass"
    assert own("FROM base/busybox\nUSER ${WHO}\n", busybox)["non-root-user"].state == "unknown", "never guessed"


def test_a_credential_in_an_arg_or_a_run_line_fails_as_the_history_scan_will(busybox):
    checks = own(f"FROM base/busybox\nARG GITHUB_TOKEN={TOKEN}\nUSER 10001\n", busybox)
    history = checks["no-secrets-in-layers"]
    assert history.state == "fail" and "line 2 (github-token)" in history.detail and TOKEN[:12] not in history.detail
    given = own("FROM base/busybox\nARG DEPLOY_KEY\nRUN ./fetch.sh\nUSER 10001\n", busybox, build_args={"DEPLOY_KEY": TOKEN})
    assert "line 3 (github-token)" in given["no-secrets-in-layers"].detail, "a RUN step records the build arguments it saw"
    in_run = own(f"FROM base/busybox\nRUN wget --header 'Authorization: token {TOKEN}' https://x.example/a\n", busybox)
    assert "line 2 (github-token)" in in_run["no-secrets-in-layers"].detail
    clean = own("FROM base/busybox\nARG VERSION=1.2\nRUN echo $VERSION\nUSER 10001\n", busybox)["no-secrets-in-layers"]
    assert clean.state == "unknown" and "files are checked on the built image" in clean.detail, "files are only in the image"


def test_a_credential_named_arg_the_scanner_does_not_recognise_is_said_but_not_failed(busybox):
    check = own("FROM base/busybox\nARG API_TOKEN=opaque-value-42\nRUN true\nUSER 10001\n", busybox)["no-secrets-in-layers"]
    assert check.state == "unknown" and "ARG API_TOKEN looks like a credential" in check.detail
    assert "opaque-value-42" not in check.detail


def test_hadolint_errors_are_expected_failures(busybox):
    assert own("FROM base/busybox\nRUN sudo true\nUSER 10001\n", busybox)["dockerfile-lint"].state == "fail"
    assert own("FROM base/busybox\nUSER 10001\n", busybox)["dockerfile-lint"].state == "pass"


def test_a_custom_base_that_runs_as_a_user_passes_without_user_of_its_own(member, team, busybox, runtime_user):
    source = build_request(user=member, recipe=recipe_save(user=member, team=team, name="java", base=busybox,
                                                           choices=[(runtime_user, {"uid": "10001"})]))
    Verdict.objects.create(build=source, passed=True, results=[
        {"rule": "non-root-user", "status": "pass", "message": "Runs as '10001' (uid 10001).", "evidence": {"user": "10001", "uid": 10001}}])
    custom = BaseImage.objects.create(slug="team-java", name="Team Java", repository="published/payments/java", tag="1",
                                      digest="sha256:" + "7" * 64, os_family="busybox", approved=True, source_build=source)
    check = own("FROM published/payments/java:1\nRUN true\n", custom)["non-root-user"]
    assert check.state == "pass" and "10001 (uid 10001)" in check.detail
    Verdict.objects.create(build=source, passed=False, results=[{"rule": "non-root-user", "status": "fail", "evidence": {}}])
    assert own("FROM published/payments/java:1\n", custom)["non-root-user"].state == "fail", "its latest verdict counts"


def test_a_rule_the_team_only_warns_about_is_a_warning_and_asks_nothing(team, busybox):
    PolicyRule.objects.create(team=team, kind="non-root-user", action="warn")
    PolicyRule.objects.create(team=team, kind="dockerfile-lint", enabled=False)
    checks = own("FROM base/busybox\nRUN sudo true\n", busybox, team=team)
    assert checks["non-root-user"].state == "warn" and "dockerfile-lint" not in checks
    assert not expected_failures(list(checks.values()))
