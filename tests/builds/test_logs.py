"""Credentials never reach the stored build log."""
import json

import pytest
from django.urls import reverse

from builds.logs import MASK, LogMasker

GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
AWS = "AKIA" + "ABCDEFGHIJKLMNOP"


def test_it_masks_tokens_passwords_in_urls_and_assignments():
    masker = LogMasker()
    assert masker.mask(f"export GITHUB_TOKEN={GITHUB}") == f"export GITHUB_TOKEN={MASK}"
    assert AWS not in masker.mask(f"aws configure set aws_access_key_id {AWS}")
    assert masker.mask("Connecting to https://deploy:s3cr3t-pw@repo.example.com/x") == \
        f"Connecting to https://deploy:{MASK}@repo.example.com/x"
    assert masker.mask("DB_PASSWORD=hunter2hunter2 ./run") == f"DB_PASSWORD={MASK} ./run"


def test_it_masks_the_body_of_a_private_key_printed_over_many_lines():
    masker = LogMasker()
    lines = ["-----BEGIN RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAx", "abcdef==", "-----END RSA PRIVATE KEY-----", "done"]
    masked = [masker.mask(line) for line in lines]
    assert masked == ["-----BEGIN RSA PRIVATE KEY-----", MASK, MASK, "-----END RSA PRIVATE KEY-----", "done"]


def test_it_leaves_ordinary_build_output_alone():
    masker = LogMasker()
    for line in ["Step 2/5 : RUN apt-get install -y wget", "Setting up passwd (1:4.13+dfsg1-1) ...",
                 "Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]", "token bucket: 5 left"]:
        assert masker.mask(line) == line


# -- Dockerfile steps the builder echoes -----------------------------------------------------------

def test_it_masks_credential_values_of_env_arg_and_label_steps_by_name():
    masker = LogMasker()
    echoed = {
        "Step 3/7 : ENV API_TOKEN=abc123def456 LANG=C.UTF-8": f"Step 3/7 : ENV API_TOKEN={MASK} LANG=C.UTF-8",
        "Step 4/7 : ENV DB_PASSWORD hunter2 with spaces": f"Step 4/7 : ENV DB_PASSWORD {MASK}",
        "Step 2/7 : ARG deployKey='k-9f8e7d'": f"Step 2/7 : ARG deployKey={MASK}",
        'Step 5/7 : LABEL maintainer="Pay Team" registry.secret="s p a c e"':
            f'Step 5/7 : LABEL maintainer="Pay Team" registry.secret={MASK}',
        'Step 6/7 : env db-passphrase="with \\" quote" PATH=/usr/local/bin': f"Step 6/7 : env db-passphrase={MASK} PATH=/usr/local/bin",
        f"Step 7/7 : ENV UPSTREAM={GITHUB}": f"Step 7/7 : ENV UPSTREAM={MASK}",  # the scanner's pattern, any name
    }
    for line, expected in echoed.items():
        assert masker.mask(line) == expected


def test_it_keeps_values_that_cannot_be_credentials_and_steps_without_values():
    masker = LogMasker()
    for line in ["Step 2/7 : ARG NPM_TOKEN", "Step 3/7 : ENV TOKEN_FILE=/run/secrets/token ENABLE_TOKEN_AUTH=true",
                 "Step 4/7 : ENV KEY_ID=${KEY_ID}", "Step 5/7 : LABEL org.opencontainers.image.authors=payments",
                 "Step 6/7 : ENV MONKEY_BUSINESS=none-at-all"]:
        assert masker.mask(line) == line


@pytest.mark.django_db
def test_the_build_page_the_raw_log_and_the_api_show_the_mask(client, build, member):
    """What the worker writes (the builder's echo, then the failure naming that step) as every
    reader of the log sees it."""
    from builds.logs import BuildLog
    from builds.runner.pipeline import build_finish
    from tests.builds.test_api import api_for

    step = "Step 3/7 : ENV API_TOKEN=live-9f8e7d6c5b4a"
    log = BuildLog(build, step="build")
    for line in (step, " ---> Running in 0123456789ab", "error: unable to resolve the token"):
        log.line(line)
    log.flush()
    build_finish(build, "failed", "build:user:step-failed", f"The step {step} failed", step)
    client.force_login(member)
    readers = {"page": client.get(reverse("build-detail", args=[build.pk])).content.decode(),
               "raw log": client.get(reverse("build-log-raw", args=[build.pk])).content.decode(),
               "live log": client.get(reverse("build-live", args=[build.pk])).content.decode(),
               "api log": json.dumps(api_for(member).get(f"/api/builds/{build.pk}/log/?after=-1").json()),
               "api build": json.dumps(api_for(member).get(f"/api/builds/{build.pk}/").json())}
    for reader, text in readers.items():
        assert "live-9f8e7d6c5b4a" not in text, reader
    assert f"ENV API_TOKEN={MASK}" in readers["raw log"] and f"API_TOKEN={MASK}" in readers["api build"]
