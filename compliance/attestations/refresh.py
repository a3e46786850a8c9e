"""Keeping attestations true (`attestations_refresh`, every minute from Celery beat; renewal hourly):

- the image's verdict changed (re-evaluation after an import, an exception that expired or was
  revoked, a policy change, a base withdrawn): a new verdict attestation says so, and the old ones
  stay in the referrers index;
- the attested verdict is about to run out (its `validUntil`: the earliest exception expiry, or the
  vulnerability data's age limit) while today's verdict would last longer: it is signed again;
- the key that signed something was rotated: everything of the image is signed again with the new key.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from adapters.factory import registry_client
from adapters.registry import RegistryError
from builds.models import Build
from compliance.attestations.keyring import SigningUnavailable, active_signer
from compliance.attestations.predicates import verdict_valid_until
from compliance.attestations.services import attest_all, data_imported, published_repository, verdict_attest, verdict_record
from compliance.models import Attestation, ImageScan, SigningKey, Verdict
from compliance.policy.currency import verdict_make_current
from compliance.policy.evaluation import verdict_evaluate

log = logging.getLogger(__name__)
Kind = Attestation.Kind


def _latest(kind: str, field: str):
    return Subquery(Attestation.objects.filter(build=OuterRef("pk"), kind=kind).order_by("-created", "-id").values(field)[:1])


def attestations_due(*, now: datetime | None = None, renew: bool = True) -> list[int]:
    """Published builds whose attestations say something no longer true: the latest verdict's
    outcome differs from the last attested one, a key was rotated, or (with `renew`) the attested
    verdict runs out within ATTESTATION_REFRESH_HOURS."""
    now = now or timezone.now()
    active = SigningKey.objects.filter(active=True).values_list("key_id", flat=True).first()
    latest_verdict = Verdict.objects.filter(build=OuterRef("pk")).order_by("-created", "-id")
    rows = (Build.objects.exclude(published_reference="").annotate(
        verdict_passed=Subquery(latest_verdict.values("passed")[:1]),
        attested_compliant=_latest(Kind.VERDICT, "compliant"), attested_until=_latest(Kind.VERDICT, "valid_until"),
        verdict_key=_latest(Kind.VERDICT, "key_id"), signature_key=_latest(Kind.SIGNATURE, "key_id"))
        .values_list("pk", "verdict_passed", "attested_compliant", "attested_until", "verdict_key", "signature_key"))
    horizon = now + timedelta(hours=settings.ATTESTATION_REFRESH_HOURS)
    due = []
    for pk, passed, compliant, until, verdict_key, signature_key in rows:
        if passed is None:
            continue  # nothing to attest (cannot happen for a published build; kept safe)
        rotated = active is not None and (signature_key != active or verdict_key != active)
        # only a "yes" needs renewing: a verdict that says no may run out
        running_out = renew and compliant is True and until is not None and until <= horizon
        if compliant is None or passed != compliant or rotated or running_out:
            due.append(pk)
    return due


def build_attestations_refresh(build_id: int, *, now: datetime | None = None) -> list[Attestation]:
    """Attest what is due for one published build; [] when nothing is."""
    now = now or timezone.now()
    key = active_signer()
    build = Build.objects.select_related("team", "recipe").get(pk=build_id)
    last_verdict = build.attestations.filter(kind=Kind.VERDICT).first()
    if last_verdict is not None and last_verdict.valid_until and last_verdict.valid_until <= now + timedelta(
            hours=settings.ATTESTATION_REFRESH_HOURS):
        verdict_make_current(build)  # data may have aged or arrived since: judge with today's
        scan = ImageScan.objects.filter(build=build).first()
        if scan is not None and data_imported(scan) is None:
            # its packages need no data: only a new evaluation can vouch for longer (see verdict_valid_until)
            verdict_evaluate(build=build, trigger="renewal")
    with transaction.atomic():
        build = Build.objects.select_for_update().select_related("team", "recipe").get(pk=build_id)
        # read again under the lock: a run that overlaps this one may have attested in the meantime
        last_verdict = build.attestations.filter(kind=Kind.VERDICT).first()
        last_signature = build.attestations.filter(kind=Kind.SIGNATURE).first()
        row = build.verdicts.order_by("-created", "-id").first()
        repository = published_repository(build)
        client = registry_client("gate")
        if last_signature is None or last_signature.key_id != key.key_id:
            return attest_all(client, key, build, repository, row)
        record = verdict_record(build, row)
        if last_verdict is not None and last_verdict.key_id == key.key_id and last_verdict.compliant == row.passed:
            if last_verdict.valid_until and verdict_valid_until(record) <= last_verdict.valid_until:
                return []  # today's verdict would say the same for no longer: nothing new to sign
        return verdict_attest(client, key, build, repository, row, record)


def attestations_refresh(*, now: datetime | None = None, renew: bool = True) -> int:
    """Attest every build that is due; one build's failure (registry down) does not stop the others,
    and what is not done now is due again on the next run."""
    done = 0
    for build_id in attestations_due(now=now, renew=renew):
        try:
            done += bool(build_attestations_refresh(build_id, now=now))
        except SigningUnavailable:
            log.exception("cannot sign: no attestation refreshed")
            return done
        except RegistryError:
            log.exception("attestations of build %s not refreshed; retried on the next run", build_id)
    return done


