"""Attesting a published image: its signature, provenance, SBOM and verdict, signed with the
portal's key and written beside it in the registry (compliance/attestations/oci.py) in one pass,
then recorded as Attestation rows. The gate calls `image_attest` at publication; refresh.py calls
`attest_all` and `verdict_attest` when what was attested stops being true.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from adapters.factory import registry_host
from adapters.registry import RegistryClient
from adapters.registry_batch import RequestBatch
from builds.models import Build
from compliance.attestations import oci
from compliance.attestations.envelopes import SimpleSignature, dsse_sign, sigstore_bundle, simple_sign, statement
from compliance.attestations.keys import KeyPair
from compliance.attestations.predicates import (
    CYCLONEDX_PREDICATE_TYPE,
    SLSA_PROVENANCE_TYPE,
    VERDICT_PREDICATE_TYPE,
    AppliedException,
    BuildRecord,
    VerdictRecord,
    provenance,
    verdict,
    verdict_valid_until,
)
from compliance.attestations.transparency import new_rows_state
from compliance.models import Attestation, PolicyException, Verdict
from compliance.policy.evaluation import data_max_age_days
from compliance.policy.ruleset import ruleset_for
from compliance.scans import scan_cyclonedx
from compliance.vulndb.coverage import imported_ecosystems, scans_needs

Kind = Attestation.Kind


def published_repository(build: Build) -> str:
    """The repository part of `<registry host>/<repository>:<tag>@<digest>`."""
    name = build.published_reference.split("@", 1)[0].removeprefix(registry_host() + "/")
    return name.rsplit(":", 1)[0]


def build_record(build: Build) -> BuildRecord:
    return BuildRecord(
        portal_url=settings.PORTAL_URL, build_id=build.pk, team=build.team.slug, recipe=build.recipe.name,
        kind=(build.snapshot or {}).get("kind") or build.recipe.kind, snapshot=build.snapshot or {},
        composition_sha256=build.composition_sha256, started=build.started, finished=build.finished,
        worker=build.worker, dockerfile=build.dockerfile, script_stage=build.script_stage, build_stage=build.build_stage,
        portal_version=_portal_version())


@functools.cache
def _portal_version() -> str:
    try:
        return importlib.metadata.version("image-portal")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return ""


def _exceptions_relied_on(row: Verdict) -> list[AppliedException]:
    ids = set()
    for result in row.waived:
        evidence = result.get("evidence") or {}
        ids.update(evidence.get("exceptions") or [])
        if evidence.get("exception"):
            ids.add(evidence["exception"])
    return [AppliedException(e.pk, e.target_kind, e.target, e.expires_at)
            for e in PolicyException.objects.filter(pk__in=ids).order_by("pk")]


def data_imported(scan) -> datetime | None:
    """When the oldest of the vulnerability data the image's packages need was imported (None when
    they need none: an image of no known ecosystem is judged by its evaluation time alone)."""
    needs = scans_needs([scan.pk]).get(scan.pk)
    imported = imported_ecosystems()
    dates = [imported[e] for e in (needs.ecosystems if needs else ()) if e in imported]
    return min(dates) if dates else None


def verdict_record(build: Build, row: Verdict) -> VerdictRecord:
    counts = dict(build.scan.findings.order_by().values_list("severity").annotate(n=Count("id")).values_list("severity", "n"))
    return VerdictRecord(
        verdict_id=row.pk, build_id=build.pk, team=build.team.slug, state=row.state, passed=row.passed,
        evaluated=row.created, trigger=row.trigger, policy_version=row.policy_version, ruleset_sha256=row.ruleset_version,
        results=row.results, counts=counts, data_version=row.database_version, data_imported=data_imported(build.scan),
        data_max_age_days=data_max_age_days(ruleset_for(build.team)), not_assessed=row.not_assessed,
        exceptions=_exceptions_relied_on(row))


@dataclass(frozen=True)
class _Planned:
    kind: str
    statement: oci.SignedStatement
    verdict_row: Verdict | None = None
    valid_until: datetime | None = None


def _image_lock(repository: str, digest: str) -> None:
    """Serialise writers of one image's attachments (the lists are read, extended and written back):
    builds that reuse one image share its digest and repository, so the build's row lock is not enough."""
    if connection.vendor == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"attestations {repository}@{digest}".encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _sign(key: KeyPair, build: Build, repository: str, kind: str, predicate_type: str, predicate: dict, **extra) -> _Planned:
    name = f"{registry_host()}/{repository}"
    envelope = dsse_sign(statement(name=name, digest=build.digest, predicate_type=predicate_type, predicate=predicate), key)
    return _Planned(kind, oci.SignedStatement(predicate_type, envelope, sigstore_bundle(envelope, key.key_id)), **extra)


def _verdict_planned(key: KeyPair, build: Build, repository: str, row: Verdict, record: VerdictRecord) -> _Planned:
    return _sign(key, build, repository, Kind.VERDICT, VERDICT_PREDICATE_TYPE, verdict(record), verdict_row=row,
                 valid_until=verdict_valid_until(record))


def _attach(client: RegistryClient, key: KeyPair, build: Build, repository: str, planned: list[_Planned],
            signed: SimpleSignature | None = None, **writing) -> list[Attestation]:
    """Write everything to the registry in one pass, then record it (inside the caller's transaction).
    `writing`: attachments_write's subject, image_written, first and batch, when the image is still
    being copied."""
    _image_lock(repository, build.digest)
    now = timezone.now()
    # Nothing of this image attached here yet (every attachment written is recorded; what a failed
    # publication left in the registry, unrecorded, is rewritten): the lists need not be read.
    first = not Attestation.objects.filter(repository=repository, digest=build.digest).exists()
    written = oci.attachments_write(client, repository, build.digest, signature=signed,
                                    statements=[p.statement for p in planned], created=now, first=first, **writing)
    rows, logged = [], new_rows_state()
    if signed is not None:
        rows.append(Attestation(build=build, kind=Kind.SIGNATURE, repository=repository, digest=build.digest,
                                key_id=key.key_id, manifest_digest=written["signature"], created=now, tlog_state=logged,
                                document={"payload": signed.payload.decode(), "signature": signed.signature}))
    for p in planned:
        # the SBOM's bundle is the size of the SBOM: the registry keeps it, the row only points at it
        document = {} if p.kind == Kind.SBOM else p.statement.bundle
        rows.append(Attestation(
            build=build, verdict=p.verdict_row, kind=p.kind, predicate_type=p.statement.predicate_type, repository=repository,
            digest=build.digest, manifest_digest=written[p.statement.predicate_type], key_id=key.key_id, document=document,
            compliant=p.verdict_row.passed if p.verdict_row else None, valid_until=p.valid_until, created=now,
            tlog_state=logged))
    return Attestation.objects.bulk_create(rows)


def attest_all(client: RegistryClient, key: KeyPair, build: Build, repository: str, row: Verdict,
               **writing) -> list[Attestation]:
    """The signature, provenance, SBOM and verdict, all at once (a first publication, a key rotation)."""
    signed = simple_sign(docker_reference=f"{registry_host()}/{repository}", digest=build.digest, key=key,
                         optional={"build": str(build.pk), "portal": settings.PORTAL_URL})
    sbom = json.loads(scan_cyclonedx(build.scan))  # the document the SBOM download serves
    return _attach(client, key, build, repository, [
        _sign(key, build, repository, Kind.PROVENANCE, SLSA_PROVENANCE_TYPE, provenance(build_record(build))),
        _sign(key, build, repository, Kind.SBOM, CYCLONEDX_PREDICATE_TYPE, sbom),
        _verdict_planned(key, build, repository, row, verdict_record(build, row)),
    ], signed, **writing)


def image_attest(*, build: Build, verdict_row: Verdict, repository: str, key: KeyPair, client: RegistryClient,
                 subject: tuple[bytes, str, str] | None = None, image_written: Future | None = None,
                 batch: RequestBatch | None = None) -> list[Attestation]:
    """Sign the published image and attach its provenance, SBOM and verdict (the gate holds the
    build's row lock). RegistryError when the registry refuses a write: the gate then publishes nothing.
    `subject`/`image_written`/`batch`: the gate is still copying the image, whose manifest it read
    (oci.attachments_write); what is signed goes up meanwhile, the tags naming it once it is copied."""
    return attest_all(client, key, build, repository, verdict_row, subject=subject, image_written=image_written,
                      batch=batch)


def verdict_attest(client: RegistryClient, key: KeyPair, build: Build, repository: str, row: Verdict,
                   record: VerdictRecord) -> list[Attestation]:
    """A new verdict attestation (`record`, from verdict_record) for an image already signed."""
    return _attach(client, key, build, repository, [_verdict_planned(key, build, repository, row, record)])
