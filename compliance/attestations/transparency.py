"""The optional transparency log: each signature and attestation the portal signs is also recorded
in a Rekor log, when PORTAL_REKOR_URL names one. Off by default: the portal is air-gapped, and
verification (offline, against the portal's public keys) never needs the log. A log gives what keys
alone do not: a public, append-only record of everything the portal signed, so that a signature made
with a stolen key, or a verdict signed and then hidden, shows in the log.

Rows are marked `pending` when they are created (services._attach) and sent by Celery beat's pass
(`transparency_upload_pending`), so a publication never waits for the log and nothing is lost while
it is down: a row stays pending, with the error, until the log takes it. A log refusing an entry
(4xx) is final and shown as such. The entries: `dsse` for provenance, SBOM and verdict (the DSSE
envelope and the public key), `hashedrekord` for the cosign simple-signing signature (as cosign logs
it: sha256 of the payload, the signature, the key).
"""
from __future__ import annotations

import base64
import hashlib
import logging

from django.conf import settings
from django.db import transaction

from adapters.factory import registry_client
from adapters.registry import RegistryError
from adapters.rekor import RekorClient, RekorError, dsse_entry, hashedrekord_entry
from compliance.attestations import oci
from compliance.attestations.envelopes import EnvelopeInvalid, bundle_envelope
from compliance.models import Attestation, SigningKey

log = logging.getLogger(__name__)
State = Attestation.LogState


def new_rows_state() -> str:
    """What a new row starts as: waiting for the log when one is set, else not logged at all."""
    return State.PENDING if settings.TRANSPARENCY_LOG_URL else State.OFF


def proposed_entry(row: Attestation) -> dict:
    """The Rekor entry for what `row` records, from the bytes the registry holds for it."""
    key = SigningKey.objects.filter(key_id=row.key_id).values_list("public_key", flat=True).first()
    if key is None:
        raise ValueError(f"signing key {row.key_id} is not known")
    if row.kind == Attestation.Kind.SIGNATURE:
        payload = row.document["payload"].encode()
        return hashedrekord_entry(hashlib.sha256(payload).hexdigest(), base64.b64decode(row.document["signature"]),
                                  key.encode())
    bundle = row.document or oci.bundle_read(  # the SBOM's bundle is kept in the registry only
        registry_client("scanner"), row.repository, oci.Referrer(row.manifest_digest, row.predicate_type, ""), row.digest)
    return dsse_entry(bundle_envelope(bundle), key.encode())


def transparency_upload_pending(*, limit: int = 200) -> int:
    """Send pending rows to the log, oldest first; how many it recorded. Rows another worker is
    sending are skipped. A row the log cannot take now stays pending with the reason."""
    if not settings.TRANSPARENCY_LOG_URL:
        return 0
    client = RekorClient(settings.TRANSPARENCY_LOG_URL, timeout=settings.TRANSPARENCY_LOG_TIMEOUT_SECONDS)
    recorded = 0
    for pk in list(Attestation.objects.filter(tlog_state=State.PENDING).order_by("id").values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            row = Attestation.objects.select_for_update(skip_locked=True).filter(pk=pk, tlog_state=State.PENDING).first()
            if row is None:
                continue
            row.tlog_attempts += 1
            try:
                entry = client.entry_create(proposed_entry(row))
            except RekorError as error:
                row.tlog_error = str(error)[:500]
                if error.refused:
                    row.tlog_state = State.REFUSED
                log.warning("transparency log: attestation %s not recorded: %s", row.pk, error)
            except (RegistryError, EnvelopeInvalid, ValueError, KeyError) as error:
                row.tlog_error = f"could not read what to send: {error}"[:500]
            else:
                row.tlog_state, row.tlog_entry, row.tlog_error = State.RECORDED, entry.as_record(client.base_url), ""
                recorded += 1
            row.save(update_fields=["tlog_state", "tlog_entry", "tlog_error", "tlog_attempts"])
    return recorded
