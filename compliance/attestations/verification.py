"""Verifying a published image named by a reference, for the command, the API and the page: the
offline checks of verify.py with the portal's trusted keys, plus what only the portal can tell
(the registry's newest verdict is the newest it signed)."""
from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from adapters.factory import registry_client, registry_host
from builds.dockerfile.image_reference import ImageReferenceError, reference_parse
from builds.models import Build
from builds.registry_access.grants import published_image_shared
from compliance.attestations.keyring import trusted_public_keys
from compliance.attestations.verify import Check, VerificationReport, image_verify
from compliance.models import Attestation
from portal.rbac import visible_teams

Kind = Attestation.Kind


class ReferenceRefused(ValueError):
    """The reference is malformed, names another registry or no published image."""


class ReferenceNotFound(LookupError):
    """No such published image, or none the person may see (the same answer: ids reveal nothing)."""


def _visible_to(user, team_slug: str, name: str) -> bool:
    if user is None:
        return True  # the command line, run by whoever holds the host
    if visible_teams(user).filter(slug=team_slug).exists():
        return True
    return published_image_shared(team_slug, name)  # who may pull it may verify it


def reference_verify(text: str, *, user=None, keys: dict | None = None, now: datetime | None = None) -> VerificationReport:
    """Verify a published image named by `text` (`[registry/]published/<team>/<name>[:tag][@digest]`)
    with the portal's trusted keys (or `keys`, {key id: public key}), reading the registry as the
    scanner. `user` None: the command line."""
    try:
        reference = reference_parse(text.strip())
    except ImageReferenceError as error:
        raise ReferenceRefused(str(error)) from None
    if reference.host and reference.host != registry_host():
        raise ReferenceRefused(f"{reference.host} is not the portal's registry ({registry_host()})")
    prefix, _, rest = reference.repository.partition("/")
    team_slug, _, name = rest.partition("/")
    if prefix != settings.PUBLISHED_REPOSITORY_PREFIX.strip("/") or not team_slug or not name or "/" in name:
        raise ReferenceRefused(f"{reference.repository} is not a published image "
                               f"({settings.PUBLISHED_REPOSITORY_PREFIX}/<team>/<name>)")
    if not _visible_to(user, team_slug, name):
        raise ReferenceNotFound(f"no published image {reference.repository}")
    client = registry_client("scanner")
    digest = reference.digest or client.manifest_digest(reference.repository, reference.tag)
    if digest is None:
        raise ReferenceNotFound(f"no published image {reference.repository}:{reference.tag}")
    report = image_verify(client, repository=reference.repository, digest=digest,
                          keys=trusted_public_keys(now) if keys is None else keys, now=now or timezone.now())
    return _newest_signed_check(report)


def _newest_signed_check(report: VerificationReport) -> VerificationReport:
    """The registry's newest verdict must be the newest the portal signed for the image: someone who
    can write the registry could put back an older genuine verdict (and hide the newer ones from the
    referrers index). Offline verifiers cannot see this; the portal, with its records, can."""
    newest = Attestation.objects.filter(repository=report.repository, digest=report.digest, kind=Kind.VERDICT).first()
    shown = (report.verdict or {}).get("portal", {}).get("verdict")
    if newest is None or report.verdict is None or shown == newest.verdict_id:
        return report
    report.checks = [c for c in report.checks if c.name != "verdict"] + [Check(
        "verdict", False, f"the registry's newest verdict (portal verdict {shown}) is not the newest the portal signed "
                          f"({newest.verdict_id}, {newest.created:%Y-%m-%d %H:%M} UTC): an older verdict was put back")]
    return report


def build_signature_summary(build: Build) -> dict | None:
    """What the image page says: signed by which key, the verdict attested until when (None: unsigned)."""
    rows = {a.kind: a for a in reversed(list(build.attestations.all()[:50]))}
    signature, latest = rows.get(Kind.SIGNATURE), rows.get(Kind.VERDICT)
    if signature is None:
        return None
    return {"key_id": signature.key_id, "signed": signature.created,
            "verdict_compliant": latest.compliant if latest else None,
            "verdict_valid_until": latest.valid_until if latest else None,
            "verdict_attested": latest.created if latest else None,
            "kinds": sorted(rows), "tlog": _log_summary(list(rows.values()))}


def _log_summary(rows: list[Attestation]) -> dict | None:
    """Where the optional transparency log stands for the image's current attestations (None: no log)."""
    states = {row.tlog_state for row in rows}
    if states == {Attestation.LogState.OFF}:
        return None
    refused = [row for row in rows if row.tlog_state == Attestation.LogState.REFUSED]
    pending = [row for row in rows if row.tlog_state == Attestation.LogState.PENDING]
    return {"refused": refused[0].tlog_error if refused else "", "pending": len(pending),
            "error": pending[0].tlog_error if pending else "",
            "indexes": sorted(row.tlog_entry["logIndex"] for row in rows if row.tlog_state == Attestation.LogState.RECORDED)}
