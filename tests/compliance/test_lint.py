"""The hadolint rule on the generated Dockerfile."""
from compliance.lint import dockerfile_lint, rule_dockerfile_lint

GOOD = "FROM 127.0.0.1:5000/base/debian@sha256:" + "a" * 64 + "\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends wget \\\n && rm -rf /var/lib/apt/lists/*\nUSER 10001\n"


def test_it_passes_the_portal_s_own_apt_pattern():
    result = rule_dockerfile_lint(GOOD)
    assert result.status == "pass", result.message


def test_it_fails_on_hadolint_errors_with_the_line():
    dockerfile = "FROM busybox:1\nRUN sudo echo hi\nCOPY a b c\n"
    assert {f["code"]: f["level"] for f in dockerfile_lint(dockerfile)}["DL3004"] == "error"
    result = rule_dockerfile_lint(dockerfile)
    assert result.status == "fail" and "line 2 DL3004" in result.message and "line 3 DL3021" in result.message


def test_it_fails_closed_when_hadolint_cannot_run():
    from compliance import lint

    findings_error = None
    try:
        lint.dockerfile_lint(GOOD, binary="/nonexistent/hadolint")
    except (RuntimeError, OSError) as error:
        findings_error = error
    assert findings_error is not None
