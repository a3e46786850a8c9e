"""Credentials never reach the stored build log."""
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
