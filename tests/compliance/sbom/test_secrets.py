"""Secrets in every layer and in the image config, found without ever storing them."""
import base64
import json
import logging
import random

import pytest

from compliance.sbom import secrets as secrets_module
from compliance.sbom.facts import facts_from_layers
from compliance.sbom.secrets import SecretScanner, detect_secrets_scan, fingerprint, is_candidate, text_scan
from tests.compliance.sbom.sbom_tars import layer

# Tokens are assembled at run time so this file holds nothing a push-protection scanner flags.
RNG = random.Random(7)


def token(alphabet, length):
    return "".join(RNG.choice(alphabet) for _ in range(length))


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
AWS_KEY = "AK" + "IA" + token("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
GITHUB_TOKEN = "gh" + "p_" + token(ALNUM, 36)
SLACK_TOKEN = "xo" + "xb-" + "-".join([token("0123456789", 12), token("0123456789", 13), token(ALNUM, 24)])
DB_PASSWORD = "Tr0ub4dor-" + token(ALNUM, 10)
URL_PASSWORD = token(ALNUM, 16)


def private_key(kind="RSA "):
    body = base64.encodebytes(RNG.randbytes(600)).decode()
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}-----END {kind}PRIVATE KEY-----\n"


def read(*layers, config=None, max_secret_files=20_000):
    return facts_from_layers(repository="r", digest="sha256:d", layer_digests=[f"sha256:{i}" for i in range(len(layers))],
                             config=config or {}, layers=layers, max_secret_files=max_secret_files)


def found(facts):
    return {(s.where, s.path, s.layer_index, s.rule, s.line, s.deleted_in_later_layer) for s in facts.secrets}


def test_it_finds_a_private_key_and_fingerprints_its_body_not_its_header():
    key, other = private_key(), private_key()
    facts = read(layer(("etc/ssl/private/app.key", key.encode()), ("root/.ssh/id_rsa", ("\n" + other).encode()),
                       ("home/a/copy.key", key.encode())))
    assert found(facts) == {("file", "etc/ssl/private/app.key", 0, "private-key", 1, False),
                            ("file", "home/a/copy.key", 0, "private-key", 1, False),
                            ("file", "root/.ssh/id_rsa", 0, "private-key", 2, False)}
    prints = {s.path: s.fingerprint for s in facts.secrets}
    assert prints["etc/ssl/private/app.key"] == prints["home/a/copy.key"] != prints["root/.ssh/id_rsa"]
    assert all(p.startswith("sha256:") and len(p) == 19 for p in prints.values())


@pytest.mark.parametrize("kind", ["", "EC ", "OPENSSH ", "DSA ", "RSA "])
def test_it_knows_every_pem_private_key_kind(kind):
    facts = read(layer(("k.pem", private_key(kind).encode())))
    assert [s.rule for s in facts.secrets] == ["private-key"]


def test_it_finds_a_secret_in_a_file_a_later_layer_deleted_or_overwrote():
    facts = read(
        layer(("app/.env", f"GITHUB_TOKEN={GITHUB_TOKEN}\n".encode()), ("app/deploy.sh", f"aws {AWS_KEY}\n".encode()),
              ("app/keep.txt", f"\n\n{SLACK_TOKEN}\n".encode())),
        layer(("app/.wh..env", b""), ("app/deploy.sh", b"# cleaned\n")),
    )
    assert found(facts) == {
        ("file", "app/.env", 0, "github-token", 1, True),
        ("file", "app/deploy.sh", 0, "aws-access-key-id", 1, True),
        ("file", "app/keep.txt", 0, "slack-token", 3, False),
    }


def test_it_reports_password_assignments_in_configuration_only():
    config_text = (f"db:\n  password: {DB_PASSWORD}\n  # password: commented-out\n  password_file: /run/secrets/db\n"
                   "  other_password: ${DB_PASSWORD}\n  challengePassword = A challenge password\n").encode()
    facts = read(layer(("app/config.yaml", config_text), ("app/main.py", f'password = "{DB_PASSWORD}"\n'.encode()),
                       ("etc/app.conf", f'admin_pwd = "{DB_PASSWORD}"\n'.encode()),
                       ("etc/nsswitch.conf", b"passwd:         files\n")))
    assert found(facts) == {("file", "app/config.yaml", 0, "password-assignment", 2, False),
                            ("file", "etc/app.conf", 0, "password-assignment", 1, False)}


def test_it_uses_detect_secrets_for_the_detectors_we_have_no_rule_for():
    facts = read(layer(("app/settings.ini", f"url = https://shop:{URL_PASSWORD}@db.internal/shop\n".encode())))
    assert [(s.rule, s.line) for s in facts.secrets] == [("basic-auth-credentials", 1)]


def test_it_ignores_placeholder_credentials_in_documented_urls():
    # pip's vendored urllib3 (Debian's python3-pip) documents parse_url with exactly this line.
    doc = b"    >>> U.url\n    'http://username:password@host.com:80/path?query#fragment'\n"
    real = f"DSN = 'https://shop:{URL_PASSWORD}@db.internal/shop'\n".encode()
    facts = read(layer(("usr/lib/python3/dist-packages/pip/_vendor/urllib3/util/url.py", doc), ("app/dsn.py", real)))
    assert found(facts) == {("file", "app/dsn.py", 0, "basic-auth-credentials", 1, False)}


def test_it_reports_a_secret_both_engines_see_once():
    facts = read(layer(("app/run.sh", f"export KEY={AWS_KEY}\nexport T={GITHUB_TOKEN}\n".encode())))
    assert sorted((s.rule, s.line) for s in facts.secrets) == [("aws-access-key-id", 1), ("github-token", 2)]


def test_it_skips_binary_oversized_and_noise_files():
    secret_line = f"token {GITHUB_TOKEN}\n".encode()
    facts = read(layer(
        ("usr/bin/tool", b"\x7fELF\0\0" + secret_line),  # NUL in the first 8 KiB: binary
        ("app/late-nul.txt", secret_line + b"x" * 9000 + b"\0"),  # NUL only after 8 KiB: text
        ("var/log/huge.log", secret_line + b"x" * (1024 * 1024)),  # over 1 MiB
        ("usr/share/doc/tool/README", secret_line),
        ("usr/lib/python3.11/test/keycert.pem", private_key().encode()),
        ("usr/local/lib/python3.12/test/certdata/key.pem", private_key().encode()),
        ("usr/share/locale/fr/LC_MESSAGES/x.mo", secret_line),
    ))
    assert [s.path for s in facts.secrets] == ["app/late-nul.txt"]


def test_it_stops_after_the_file_limit_and_says_so():
    files = [(f"app/f{i}.txt", f"{GITHUB_TOKEN}\n".encode()) for i in range(3)]
    facts = read(layer(*files), max_secret_files=2)
    assert [s.path for s in facts.secrets] == ["app/f0.txt", "app/f1.txt"]
    assert facts.secrets_truncated
    assert not read(layer(*files), max_secret_files=3).secrets_truncated


def test_it_stops_after_the_finding_limit_and_says_so(monkeypatch):
    monkeypatch.setattr(secrets_module, "MAX_FINDINGS", 2)
    facts = read(layer(("app/tokens.txt", "\n".join(["gh" + "p_" + token(ALNUM, 36) for _ in range(5)]).encode())))
    assert len(facts.secrets) == 2 and facts.secrets_truncated


def test_it_scans_env_labels_and_history_of_the_config():
    config = {
        "config": {"Env": ["PATH=/usr/bin", f"GH={GITHUB_TOKEN}", f"DB_PASSWORD={DB_PASSWORD}", "API_TOKEN=${T}"],
                   "Labels": {"deploy.key": AWS_KEY, "maintainer": "team@example.com"}},
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:abc in /"},
            {"created_by": f"/bin/sh -c #(nop)  ENV GH={GITHUB_TOKEN}", "empty_layer": True},
            {"created_by": f"RUN /bin/sh -c curl -H 'Authorization: token {GITHUB_TOKEN}' https://x | sh"},
        ],
    }
    facts = read(layer(("a", b"")), layer(("b", b"")), config=config)
    assert found(facts) == {
        ("env", "GH", None, "github-token", 1, False),
        ("env", "DB_PASSWORD", None, "password-assignment", 1, False),
        ("label", "deploy.key", None, "aws-access-key-id", 1, False),
        ("history", "history/1", None, "github-token", 1, False),  # an ENV step makes no layer
        ("history", "history/2", 1, "github-token", 1, False),
    }


def test_it_never_stores_a_secret_or_a_piece_of_it():
    key = private_key()
    facts = read(
        layer(("app/.env", f"GH={GITHUB_TOKEN}\nDB_PASSWORD={DB_PASSWORD}\n".encode()), ("k.pem", key.encode()),
              ("app/settings.ini", f"url = https://shop:{URL_PASSWORD}@db/shop\nslack={SLACK_TOKEN}\n".encode())),
        layer(("app/.wh..env", b"")),
        config={"config": {"Env": [f"AWS={AWS_KEY}"]}},
    )
    assert len(facts.secrets) == 6
    # The image config itself is stored as it is (that is what the ENV policy rule reads);
    # everything the secret scan adds must be free of secrets.
    stored = json.dumps({**facts.to_dict(), "config": None})
    key_body = "".join(key.splitlines()[1:-1])
    for secret in (GITHUB_TOKEN, DB_PASSWORD, URL_PASSWORD, SLACK_TOKEN, AWS_KEY, key_body):
        for start in range(0, len(secret) - 8, 4):
            assert secret[start:start + 8] not in stored
    assert fingerprint(GITHUB_TOKEN) in stored  # what a reviewer can match against a known leak


def test_it_runs_detect_secrets_on_each_text_and_reports_every_occurrence():
    line = f"url = https://u:{URL_PASSWORD}@h/\n"
    [first, second] = detect_secrets_scan([("a.ini", line * 2), ("b.txt", "nothing\n")], plugins=["BasicAuthDetector"])
    assert [(d.line, d.type) for d in first] == [(1, "Basic Auth Credentials"), (2, "Basic Auth Credentials")]
    assert second == []
    assert detect_secrets_scan([], plugins=["BasicAuthDetector"]) == []


def test_it_takes_scanned_files_without_an_index():
    scanner = SecretScanner()
    assert is_candidate("app/x", 10) and not is_candidate("app/empty", 0)
    scanner.take(0, text_scan("app/x", f"{GITHUB_TOKEN}\n".encode(), config=False))
    [finding] = scanner.finish()
    assert (finding.rule, finding.deleted_in_later_layer) == ("github-token", False)


def test_it_keeps_detect_secrets_from_logging_the_secrets_it_filters(capsys, caplog):
    log = logging.getLogger("detect-secrets")
    level = log.level
    log.setLevel(logging.DEBUG)  # as a verbose logging configuration might
    try:
        with caplog.at_level(logging.DEBUG):
            read(layer(("app/settings.ini", b"url = https://user:abcdefghijklmnopq@db/shop\n")))
    finally:
        log.setLevel(level)
    assert "abcdefghijklmnopq" not in caplog.text + capsys.readouterr().err


def sample_tokens():
    """One token per detect-secrets detector we use on files, each built at run time."""
    hexa, lower = "0123456789abcdef", "abcdefghijklmnopqrstuvwxyz0123456789"
    return {
        "AWSKeyDetector": ["AS" + "IA" + token("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 16),
                           'AWS_secret_key = "' + token(ALNUM, 40) + '"'],
        "AzureStorageKeyDetector": ["AccountKey=" + token(ALNUM, 88)],
        "BasicAuthDetector": [f"https://user:{URL_PASSWORD}@host/"],
        "GitHubTokenDetector": ["gh" + "o_" + token(ALNUM, 36)],
        "GitLabTokenDetector": ["gl" + "pat-" + token(ALNUM, 20), "GR1348941" + token(ALNUM, 20)],
        "JwtTokenDetector": ["ey" + "JhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"],
        "NpmDetector": ["//registry.npmjs.org/:_auth" + "Token=npm_" + token(ALNUM, 36)],
        "OpenAIDetector": ["sk" + "-" + token(ALNUM, 20) + "T3Blbk" + "FJ" + token(ALNUM, 20)],
        "PrivateKeyDetector": ["-----BEGIN PGP PRIVATE KEY BLOCK-----", "PuTTY-User-Key-File-2: ssh-rsa"],
        "PypiTokenDetector": ["pypi" + "-AgEIcHlwaS5vcmc" + token(ALNUM, 70)],
        "SendGridDetector": ["SG" + "." + token(ALNUM, 22) + "." + token(ALNUM, 43)],
        "SlackDetector": [SLACK_TOKEN, "https://hooks.slack.com/services/T" + token(ALNUM, 8) + "/B" + token(ALNUM, 8)
                          + "/" + token(ALNUM, 24)],
        "SquareOAuthDetector": ["sq0" + "csp-" + token(ALNUM, 43)],
        "StripeDetector": ["sk" + "_live_" + token(lower + hexa, 24)],
    }


def test_it_never_lets_a_cue_hide_a_token_a_detector_would_find():
    from compliance.sbom.secret_rules import FILE_DETECTORS, cued
    from compliance.sbom.secrets import _detector_patterns

    samples = sample_tokens()
    assert set(samples) == set(FILE_DETECTORS)
    for detector, tokens in samples.items():
        for text in tokens:
            assert any(p.search(text) for p in _detector_patterns()[detector]), (detector, "bad sample")
            assert detector in cued(text.encode(), config=False), detector
