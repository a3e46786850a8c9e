"""The signing key: made once, registered on first use, rotated with an overlap; a process holding
any other key signs nothing, so the gate publishes nothing rather than something nobody trusts."""
import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.attestations.keyring import (
    SigningUnavailable,
    active_signer,
    keys_document,
    signing_key_ensure,
    signing_key_rotate,
    trusted_keys,
)
from compliance.attestations.keys import signing_key_generate, signing_key_load, trusted_keys_parse
from compliance.models import SigningKey
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def key_file(settings, tmp_path):
    settings.SIGNING_KEY_FILE = str(tmp_path / "signing" / "key.pem")
    settings.SIGNING_KEY_PEM = ""
    return Path(settings.SIGNING_KEY_FILE)


def test_ensure_makes_a_private_key_only_its_owner_reads_and_registers_it_once(key_file):
    row, created = signing_key_ensure()
    assert created and row.active
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert signing_key_load(key_file.read_bytes()).key_id == row.key_id
    again, created_again = signing_key_ensure()
    assert not created_again and again.pk == row.pk and SigningKey.objects.count() == 1
    assert AuditEvent.objects.filter(action="signing-key.registered").count() == 1


def test_a_process_with_another_key_or_no_key_cannot_sign(key_file, settings):
    signing_key_ensure()
    settings.SIGNING_KEY_PEM = signing_key_generate().private_pem().decode()  # a worker started with the wrong key
    with pytest.raises(SigningUnavailable, match="is not the active key"):
        active_signer()
    settings.SIGNING_KEY_PEM = "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n"
    with pytest.raises(SigningUnavailable, match="unusable"):
        active_signer()
    settings.SIGNING_KEY_PEM = ""
    key_file.unlink()
    with pytest.raises(SigningUnavailable, match="does not exist"):
        active_signer()
    with pytest.raises(SigningUnavailable, match="restore the key file"):
        signing_key_ensure()  # a lost key file is not silently replaced by a key nobody trusts


def test_rotation_keeps_the_old_key_trusted_for_the_overlap_and_signs_with_the_new(key_file):
    old, _ = signing_key_ensure()
    new = signing_key_rotate(overlap_days=3)
    assert active_signer().key_id == new.key_id == signing_key_load(key_file.read_bytes()).key_id
    old.refresh_from_db()
    assert not old.active and old.verify_until > timezone.now() + timedelta(days=2)
    assert {k.key_id for k in trusted_keys()} == {old.key_id, new.key_id}
    assert {k.key_id for k in trusted_keys(timezone.now() + timedelta(days=4))} == {new.key_id}
    statuses = {k["keyid"]: k["status"] for k in keys_document()["keys"]}
    assert statuses == {new.key_id: "active", old.key_id: "retiring"}
    assert {k["keyid"]: k["status"] for k in keys_document(timezone.now() + timedelta(days=4))["keys"]}[old.key_id] == "retired"


def test_adopting_a_key_refuses_one_used_before_and_a_pem_from_the_environment_is_only_adopted(key_file, settings):
    first, _ = signing_key_ensure()
    with pytest.raises(ValueError, match="registered before"):
        signing_key_rotate(adopt=True)  # the configured key is the active one: nothing new
    replacement = signing_key_generate()
    settings.SIGNING_KEY_PEM = replacement.private_pem().decode()
    with pytest.raises(ValueError, match="--adopt"):
        signing_key_rotate()  # it cannot write a new key into the environment
    assert signing_key_rotate(adopt=True).key_id == replacement.key_id
    with pytest.raises(ValueError, match="negative"):
        signing_key_rotate(adopt=True, overlap_days=-1)
    assert SigningKey.objects.filter(active=True).count() == 1 and not SigningKey.objects.get(pk=first.pk).active


def test_the_command_shows_rotates_and_refuses_with_a_message(key_file, capsys):
    call_command("signing_key", "ensure")
    first = SigningKey.objects.get(active=True)
    call_command("signing_key", "rotate", "--overlap-days", "1")
    call_command("signing_key", "show")
    out = capsys.readouterr().out
    assert first.key_id[:16] in out and SigningKey.objects.get(active=True).key_id[:16] in out


def test_the_public_keys_are_published_without_login_and_a_verifier_can_read_them(key_file, client):
    old, _ = signing_key_ensure()
    new = signing_key_rotate(overlap_days=1)
    document = client.get("/.well-known/image-portal/signing-keys.json").json()
    assert [k["keyid"] for k in document["keys"]] == [new.key_id, old.key_id]
    assert "PRIVATE" not in str(document)
    pem = client.get("/.well-known/image-portal/signing-keys.pem")
    assert pem["Content-Type"] == "application/x-pem-file"
    assert set(trusted_keys_parse(pem.content.decode())) == {new.key_id, old.key_id}
    assert set(trusted_keys_parse(json.dumps(document))) == {new.key_id, old.key_id}
    schema = client.get("/.well-known/image-portal/verdict-v1.schema.json").json()
    assert schema["$id"] == "https://image-portal.dev/attestations/verdict/v1"


def test_the_verify_api_refuses_what_is_not_a_published_image_and_hides_other_teams(member, other_team):
    api = APIClient()
    api.force_authenticate(member)
    assert api.get("/api/images/verify/").status_code == 400
    for ref in ("quarantine/payments/x@sha256:" + "a" * 64, "evil.example/published/payments/x", "published/payments",
                "published/payments/a/b", "PUBLISHED/../x", "published/payments/x@sha256:short"):
        answer = api.get("/api/images/verify/", {"ref": ref})
        assert answer.status_code == 400, (ref, answer.content)
        assert "ref" in answer.json()
    # another team's image that is not shared: the same answer as an image that does not exist
    answer = api.get("/api/images/verify/", {"ref": f"published/{other_team.slug}/orders-api"})
    assert answer.status_code == 404


def test_a_rotation_that_cannot_write_the_key_says_how_to_adopt_and_changes_nothing(key_file, settings, tmp_path):
    first, _ = signing_key_ensure()
    blocker = tmp_path / "secrets"
    blocker.write_text("not a directory")  # root ignores a read-only mode; a file in the path stops it too
    settings.SIGNING_KEY_FILE = str(blocker / "key.pem")
    with pytest.raises(SigningUnavailable, match="--adopt"):
        signing_key_rotate()
    assert SigningKey.objects.get(active=True).pk == first.pk, "the rotation rolled back"
