"""policy_evaluate and its three rules, on ImageFacts built in code."""
import json

import pytest

from compliance.policy.rules import ApprovedBase, policy_evaluate, rule_approved_base, rule_no_secrets_in_env, rule_non_root_user
from compliance.sbom.models import ImageFacts

BASE = ApprovedBase("catalog/debian:12", ["sha256:base0", "sha256:base1"])
PASSWD = {"root": 0, "daemon": 1, "app": 10001, "toor": 0}


def make_facts(*, user="app", env=(), layers=("sha256:base0", "sha256:base1", "sha256:app"), diff_ids=(), secrets=()):
    return ImageFacts(repository="quarantine/app", digest="sha256:m", layer_digests=list(layers),
                      config={"config": {"User": user, "Env": list(env)}, "rootfs": {"diff_ids": list(diff_ids)}},
                      passwd=dict(PASSWD), secrets=list(secrets))


# -- verdict ---------------------------------------------------------------------------
def test_it_passes_an_image_that_meets_every_rule():
    verdict = policy_evaluate(facts=make_facts(env=["PATH=/usr/bin"]), approved_bases=[BASE])
    assert verdict.passed
    assert [r.rule for r in verdict.results] == ["approved-base", "non-root-user", "no-secrets-in-env", "no-secrets-in-layers"]
    assert json.loads(json.dumps(verdict.to_dict()))["passed"] is True


def test_it_fails_the_verdict_when_one_rule_fails():
    verdict = policy_evaluate(facts=make_facts(user="root"), approved_bases=[BASE])
    assert not verdict.passed
    assert [r.status for r in verdict.results] == ["pass", "fail", "pass", "pass"]


# -- approved-base ---------------------------------------------------------------------
def test_it_passes_when_the_layers_start_with_an_approved_base():
    result = rule_approved_base(make_facts(), [ApprovedBase("other", ["sha256:zzz"]), BASE])
    assert result.status == "pass"
    assert result.evidence == {"base": "catalog/debian:12", "base_layers": 2}


def test_it_passes_an_image_that_is_exactly_the_base():
    assert rule_approved_base(make_facts(layers=BASE.layer_digests), [BASE]).status == "pass"


def test_it_matches_a_base_recorded_by_diff_ids():
    facts = make_facts(layers=["sha256:gz0", "sha256:gz1"], diff_ids=["sha256:base0", "sha256:base1"])
    assert rule_approved_base(facts, [BASE]).status == "pass"


@pytest.mark.parametrize("layers", [
    ["sha256:base0", "sha256:app"],  # only part of the base
    ["sha256:base1", "sha256:base0", "sha256:app"],  # wrong order
    ["sha256:other", "sha256:base0", "sha256:base1"],  # base not at the bottom
    ["sha256:base0"],  # shorter than the base
    [],
])
def test_it_fails_when_the_layers_do_not_start_with_a_whole_base(layers):
    result = rule_approved_base(make_facts(layers=layers), [BASE])
    assert result.status == "fail"
    assert result.evidence["bottom_layer"] == (layers[0] if layers else None)
    assert result.evidence["checked"] == ["catalog/debian:12"]


def test_it_never_matches_a_base_without_layers_or_no_base_at_all():
    assert rule_approved_base(make_facts(), [ApprovedBase("scratch", [])]).status == "fail"
    assert rule_approved_base(make_facts(), []).status == "fail"


# -- non-root-user ---------------------------------------------------------------------
@pytest.mark.parametrize("user", ["", "root", "0", "0:0", "root:root", "0:1000", "toor", "  ", "00"])
def test_it_fails_users_that_run_as_root(user):
    result = rule_non_root_user(make_facts(user=user))
    assert result.status == "fail"
    assert result.message.startswith("Runs as root")
    assert "Non-root runtime user" in result.message


def test_it_names_the_root_user_in_the_message():
    assert rule_non_root_user(make_facts(user="root")).message == (
        "Runs as root: final USER is 'root'. Add the 'Non-root runtime user' option.")


def test_it_fails_a_missing_user_config():
    facts = make_facts()
    facts.config = {}
    assert rule_non_root_user(facts).status == "fail"


@pytest.mark.parametrize("user, uid", [("10001", 10001), ("app", 10001), ("app:app", 10001),
                                       ("4242", 4242), ("65534:65534", 65534), ("1000:0", 1000)])
def test_it_passes_users_that_are_not_root(user, uid):
    result = rule_non_root_user(make_facts(user=user))
    assert result.status == "pass"
    assert result.evidence == {"user": user, "uid": uid}


def test_it_fails_a_user_name_missing_from_passwd():
    result = rule_non_root_user(make_facts(user="ghost:ghost"))
    assert result.status == "fail"
    assert "user 'ghost' not found in /etc/passwd" in result.message


# -- no-secrets-in-env -----------------------------------------------------------------
HARMLESS = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "JAVA_TOOL_OPTIONS=-javaagent:/opt/otel/opentelemetry-javaagent.jar -Dotel.service.name=shop",
    "TZ=Europe/Paris",
    "LANG=C.UTF-8",
    "PYTHON_SHA256=c30bb24b7f1e9a19b11b55a546434f74e739bb4c271a3e3a80ff4380d49f7adb",
    "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
    "DB_PASSWORD_FILE=/run/secrets/db_password",
    "API_TOKEN=${API_TOKEN}",
    "NPM_TOKEN=$NPM_TOKEN",
    "SECRET_KEY=",
    "TOKENIZER_MODEL=bert-base-uncased",  # TOKEN only as part of a longer word
    "ENABLE_TOKEN_AUTH=true",
    "PASSWORDLESS_LOGIN=off",
    "UPSTREAM_DNS=8.8.8.8",
    "NO_VALUE",
]


def test_it_passes_ordinary_environment_variables():
    result = rule_no_secrets_in_env(make_facts(env=HARMLESS))
    assert result.status == "pass", result.evidence
    assert result.message == f"No secrets in the {len(HARMLESS)} environment variables."


def test_it_passes_an_image_without_env():
    assert rule_no_secrets_in_env(make_facts(env=[])).status == "pass"


SECRETS = {  # variable -> (value, the detect-secrets detector expected to catch it)
    "AWS_ACCESS_KEY_ID": ("AKIAIOSFODNN7EXAMPLE", "AWS Access Key"),
    "GH": ("ghp_1234567890abcdefghijklmnopqrstuvwxyzAB", "GitHub Token"),
    "SESSION_BLOB": ("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MHF3ZXJ0eXVpb3Bhc2RmZ2hqa2w=", "Base64 High Entropy String"),
    "DATABASE_URL": ("postgres://shop:s3cr3tPassw0rd@db:5432/shop", "Basic Auth Credentials"),
    "TLS_KEY": ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----\n",
                "Private Key"),
}


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_it_fails_a_value_detect_secrets_recognises(name):
    value, detector = SECRETS[name]
    result = rule_no_secrets_in_env(make_facts(env=[*HARMLESS, f"{name}={value}"]))
    assert result.status == "fail"
    [finding] = result.evidence["findings"]
    assert finding["variable"] == name
    assert detector in finding["detectors"]


@pytest.mark.parametrize("item", ["DB_PASSWORD=hunter2", "db_passwd=x", "SECRET=abc", "GITLAB_TOKEN=glpat",
                                  "STRIPE_API_KEY=k", "APIKEY=k", "SSH_PRIVATE_KEY=k", "S3_ACCESS_KEY=k",
                                  "GOOGLE_APPLICATION_CREDENTIALS=inline", "dbPassword=abc", "api-key=k"])
def test_it_fails_a_credential_like_name_with_a_literal_value(item):
    result = rule_no_secrets_in_env(make_facts(env=[item]))
    assert result.status == "fail"
    assert "credential-like name" in result.evidence["findings"][0]["detectors"]


def test_it_names_the_variables_in_the_message_but_never_the_values():
    env = [f"{name}={value}" for name, (value, _) in SECRETS.items()] + ["DB_PASSWORD=hunter2-but-longer"]
    result = rule_no_secrets_in_env(make_facts(env=env))
    stored = json.dumps(result.to_dict(), ensure_ascii=False)
    for value in [*(v for v, _ in SECRETS.values()), "hunter2-but-longer", "s3cr3tPassw0rd"]:
        assert value not in stored
        assert value[:6] not in stored
    assert "DB_PASSWORD" in result.message and "AWS_ACCESS_KEY_ID" in result.message
    by_name = {f["variable"]: f for f in result.evidence["findings"]}
    assert by_name["AWS_ACCESS_KEY_ID"]["fingerprint"] == "AK…20"
    assert by_name["DB_PASSWORD"]["fingerprint"] == "hu…18"


def test_it_reveals_only_the_length_of_short_secrets():
    result = rule_no_secrets_in_env(make_facts(env=["DB_PASSWORD=hunter2"]))
    assert result.evidence["findings"][0]["fingerprint"] == "…7"


def test_it_fails_on_a_secret_in_a_file_even_when_a_later_layer_deleted_it():
    from compliance.policy.rules import rule_no_secrets_in_layers
    from compliance.sbom.models import SecretFinding

    secret = SecretFinding(path="root/.ssh/id_rsa", layer_index=1, rule="private-key", fingerprint="ab12cd34ef56",
                           line=1, deleted_in_later_layer=True)
    env_only = SecretFinding(path="DB_PASSWORD", layer_index=None, rule="keyword", fingerprint="0011", line=1, where="env")
    facts = make_facts(secrets=[secret, env_only])
    result = rule_no_secrets_in_layers(facts)
    assert result.status == "fail"
    assert "root/.ssh/id_rsa (private-key, layer 1, deleted later but still in its layer)" in result.message
    assert [f["path"] for f in result.evidence["findings"]] == ["root/.ssh/id_rsa"], "ENV has its own rule"
    assert rule_no_secrets_in_layers(make_facts(secrets=[env_only])).status == "pass"
