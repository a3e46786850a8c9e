"""The keys the portal signs and verifies with.

The private key comes from PORTAL_SIGNING_KEY (its PEM) or SIGNING_KEY_FILE; the public keys are
rows (SigningKey), so verification never needs the private key and every key ever used is on record.
Exactly one key is active. The first key is registered on first use (or by `manage.py signing_key
ensure`); later keys only by rotation: a configured key that differs from the active one is refused,
so a worker started with the wrong key signs nothing rather than something nobody trusts.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.attestations.keys import ALGORITHM, InvalidKey, KeyPair, public_key_load, signing_key_generate, signing_key_load
from compliance.models import SigningKey
from portal.audit import audit_record


class SigningUnavailable(Exception):
    """The portal cannot sign: no key, an unreadable key, or one that is not the active key."""


def _configured_pem() -> tuple[bytes, str]:
    if settings.SIGNING_KEY_PEM:
        return settings.SIGNING_KEY_PEM.encode(), "PORTAL_SIGNING_KEY"
    path = Path(settings.SIGNING_KEY_FILE)
    try:
        return path.read_bytes(), str(path)
    except FileNotFoundError:
        raise SigningUnavailable(f"no signing key: {path} does not exist (run `manage.py signing_key ensure`, "
                                 "or set PORTAL_SIGNING_KEY)") from None
    except OSError as error:
        raise SigningUnavailable(f"the signing key {path} cannot be read: {error.strerror}") from None


def configured_key() -> KeyPair:
    pem, source = _configured_pem()
    try:
        return signing_key_load(pem)
    except InvalidKey as error:
        raise SigningUnavailable(f"the signing key from {source} is unusable: {error}") from None


def _write_key_file(key: KeyPair) -> Path:
    """Write the private key where SIGNING_KEY_FILE says, readable by its owner only, atomically."""
    path = Path(settings.SIGNING_KEY_FILE)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(path.name + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.private_pem())
        os.replace(temporary, path)
    except OSError as error:
        raise SigningUnavailable(f"cannot write the signing key to {path}: {error.strerror}. Where the key is read-only "
                                 "(a mounted secret), put the new key in its place and run `signing_key rotate --adopt`") from None
    return path


def _register(key: KeyPair) -> SigningKey:
    return SigningKey.objects.create(key_id=key.key_id, algorithm=ALGORITHM, public_key=key.public_pem, active=True)


def active_signer() -> KeyPair:
    """The key to sign with now: the configured key, which must be the active one (registered on
    the very first use, when no key was ever registered)."""
    key = configured_key()
    active = SigningKey.objects.filter(active=True).first()
    if active is None and not SigningKey.objects.exists():
        try:
            with transaction.atomic():
                active = _register(key)
            audit_record(actor=None, action="signing-key.registered", target=active, key_id=key.key_id)
        except IntegrityError:  # another process registered at the same moment
            active = SigningKey.objects.filter(active=True).first()
    if active is None:
        raise SigningUnavailable("no signing key is active (all were retired); run `manage.py signing_key rotate --adopt`")
    if active.key_id != key.key_id:
        raise SigningUnavailable(f"the configured signing key {key.key_id[:16]} is not the active key {active.key_id[:16]}; "
                                 "rotate with `manage.py signing_key rotate --adopt` if it is the new key")
    return key


def signing_key_ensure() -> tuple[SigningKey, bool]:
    """Make a key file if there is no key configured at all, and register it if no key is: what
    `make run` does on every start (nothing changes once a key exists)."""
    created = False
    if not settings.SIGNING_KEY_PEM and not Path(settings.SIGNING_KEY_FILE).exists():
        if SigningKey.objects.exists():
            raise SigningUnavailable(f"{settings.SIGNING_KEY_FILE} is missing but keys are registered: restore the key "
                                     "file, or make a new key with `manage.py signing_key rotate`")
        _write_key_file(signing_key_generate())
        created = True
    active_signer()
    return SigningKey.objects.get(active=True), created


@transaction.atomic
def signing_key_rotate(*, actor=None, adopt: bool = False, overlap_days: int | None = None) -> SigningKey:
    """Retire the active key (trusted for verification `overlap_days` more) and make a new one active:
    generated into SIGNING_KEY_FILE, or with `adopt`, the key already configured (a new file or a new
    PORTAL_SIGNING_KEY). The periodic refresh then signs every published image again with it."""
    overlap = settings.SIGNING_KEY_OVERLAP_DAYS if overlap_days is None else overlap_days
    if overlap < 0:
        raise ValueError("the overlap cannot be negative")
    if adopt:
        new = configured_key()
        if SigningKey.objects.filter(key_id=new.key_id).exists():
            raise ValueError(f"the configured key {new.key_id[:16]} was registered before; a rotation needs a new key")
    else:
        if settings.SIGNING_KEY_PEM:
            raise ValueError("the signing key comes from PORTAL_SIGNING_KEY: put the new key there and use --adopt")
        new = signing_key_generate()
    now = timezone.now()
    old = SigningKey.objects.select_for_update().filter(active=True).first()
    if old is not None:
        old.active, old.retired_at, old.verify_until = False, now, now + timedelta(days=overlap)
        old.save(update_fields=["active", "retired_at", "verify_until"])
    row = _register(new)
    if not adopt:
        _write_key_file(new)  # last: a failure above leaves the old key file and rows as they were
    audit_record(actor=actor, action="signing-key.rotated", target=row, key_id=row.key_id,
                 retired=old.key_id if old else "", verify_until=old.verify_until.isoformat() if old else "")
    return row


def trusted_keys(now=None) -> list[SigningKey]:
    """The keys a signature may be made by today: the active one and retired ones still in their overlap."""
    now = now or timezone.now()
    return [k for k in SigningKey.objects.order_by("-created") if k.active or (k.verify_until and k.verify_until > now)]


def trusted_public_keys(now=None) -> dict:
    return {k.key_id: public_key_load(k.public_key) for k in trusted_keys(now)}


def keys_document(now=None) -> dict:
    """Every key with its status, for the well-known URL, the API and the page."""
    now = now or timezone.now()
    keys = []
    for k in SigningKey.objects.order_by("-created"):
        # retiring: replaced, still trusted until its overlap ends (verifyUntil)
        status = "active" if k.active else "retiring" if k.verify_until and k.verify_until > now else "retired"
        keys.append({"keyid": k.key_id, "algorithm": k.algorithm, "publicKey": k.public_key,
                     "status": status,
                     "created": k.created.isoformat(), "retiredAt": k.retired_at.isoformat() if k.retired_at else None,
                     "verifyUntil": k.verify_until.isoformat() if k.verify_until else None})
    return {"keys": keys}
