"""Which published images the refresh attests again: an outcome that changed, a rotated key, a
compliant verdict about to run out (renewal runs only); never one whose attestation still holds."""
from datetime import timedelta

import pytest
from django.utils import timezone

from builds.models import Build
from compliance.attestations.refresh import attestations_due
from compliance.models import Attestation, SigningKey, Verdict

pytestmark = pytest.mark.django_db
Kind = Attestation.Kind


@pytest.fixture
def published(build):
    Build.objects.filter(pk=build.pk).update(published_reference="127.0.0.1:5000/published/payments/x:1@sha256:" + "a" * 64,
                                             digest="sha256:" + "a" * 64)
    SigningKey.objects.create(key_id="k1", algorithm="ecdsa-p256-sha256", public_key="-", active=True)
    return build


def _verdict(build, passed):
    return Verdict.objects.create(build=build, passed=passed, results=[])


def _attest(build, verdict, *, key="k1", until_hours=24 * 7):
    common = dict(build=build, repository="published/payments/x", digest="sha256:" + "a" * 64, key_id=key, document={})
    Attestation.objects.create(kind=Kind.SIGNATURE, **common)
    Attestation.objects.create(kind=Kind.VERDICT, verdict=verdict, compliant=verdict.passed,
                               valid_until=timezone.now() + timedelta(hours=until_hours), **common)


def test_a_published_image_never_attested_is_due_and_then_is_not(published):
    verdict = _verdict(published, True)
    assert attestations_due() == [published.pk]
    _attest(published, verdict)
    assert attestations_due() == []


def test_a_changed_outcome_is_due_at_once(published):
    _attest(published, _verdict(published, True))
    _verdict(published, False)  # a re-evaluation says no now
    assert attestations_due(renew=False) == [published.pk]


def test_a_rotated_key_makes_every_image_due(published):
    _attest(published, _verdict(published, True))
    SigningKey.objects.filter(key_id="k1").update(active=False)
    SigningKey.objects.create(key_id="k2", algorithm="ecdsa-p256-sha256", public_key="-", active=True)
    assert attestations_due(renew=False) == [published.pk]


def test_only_a_compliant_verdict_running_out_is_renewed_and_only_by_the_renewal_run(published):
    _attest(published, _verdict(published, True), until_hours=10)
    assert attestations_due(renew=False) == []
    assert attestations_due(renew=True) == [published.pk]
    Attestation.objects.all().delete()
    _attest(published, _verdict(published, False), until_hours=-10)  # a "no" that ran out: nothing to renew
    assert attestations_due(renew=True) == []
