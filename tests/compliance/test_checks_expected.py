"""The builder's expected checks read the composed Dockerfile's ENV lines with the image rule's own
secret detection, so a credential in ENV is flagged before the build, not only after the scan."""
import pytest

from compliance.door import checks_expected

pytestmark = pytest.mark.django_db


def env_row(dockerfile: str, team=None, base=None):
    rows = checks_expected(team=team, base=base, component_slugs={"runtime-user"}, runtime={}, dockerfile=dockerfile)
    return next(row for row in rows if row[1] == "No secrets in ENV")


def test_a_token_in_an_env_line_is_expected_to_fail_before_the_build(busybox):
    state, _, detail = env_row("FROM base/busybox\nENV TZ=Europe/Paris API_TOKEN=ghp_R8xv2Lm9Qp4Tz7Wc1Yb6Nd3Kf5Hj0Sa2Ue8G\n", base=busybox)
    assert state == "fail" and "API_TOKEN" in detail and "ghp_R8xv2Lm9" not in detail


def test_plain_env_lines_are_expected_to_pass_and_no_dockerfile_is_unknown(busybox):
    assert env_row("FROM base/busybox\nENV TZ=Europe/Paris LANG=C.UTF-8\n", base=busybox)[0] == "pass"
    assert env_row("", base=busybox)[0] == "unknown"
