"""Every published image carries the portal's signature, provenance, SBOM and verdict, in the
registry beside it; sigstore's own verifier and securesystemslib accept them, and verification
refuses what is unsigned, forged, about another image, non-compliant or expired.

Real parts: a busybox image built by a Celery worker, published by the gate into the registry
(token auth), verified with @sigstore/verify under Node.js (tests/verifiers, `make verifiers`)."""
import base64
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from adapters.factory import registry_client, registry_host
from adapters.registry import OCI_INDEX
from builds.models import Build
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, ComponentVersion
from compliance.attestations import oci
from compliance.attestations.envelopes import dsse_sign, sigstore_bundle, simple_sign, statement
from compliance.attestations.keyring import signing_key_rotate, trusted_public_keys
from compliance.attestations.keys import public_key_load, signing_key_generate
from compliance.attestations.predicates import CYCLONEDX_PREDICATE_TYPE, SLSA_PROVENANCE_TYPE, VERDICT_PREDICATE_TYPE
from compliance.attestations.refresh import attestations_refresh
from compliance.attestations.services import published_repository
from compliance.attestations.verification import reference_verify
from compliance.models import Attestation, SigningKey
from compliance.policy.evaluation import verdict_evaluate
from compliance.sbom_export import sbom_response
from tests.conftest import referrer_bundles, sigstore_verify, wait_for_build

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ALL_TYPES = {SLSA_PROVENANCE_TYPE, CYCLONEDX_PREDICATE_TYPE, VERDICT_PREDICATE_TYPE}


@pytest.fixture
def published(starter_catalog, celery_worker, team, member):
    recipe = recipe_save(user=member, team=team, name="signed", base=BaseImage.objects.get(slug="busybox"),
                         choices=[(ComponentVersion.objects.get(component__slug="runtime-user"), {"uid": "10001"})])
    build = wait_for_build(build_request(user=member, recipe=recipe))
    assert build.published_reference, (build.status, build.error_message)
    return build


def _reference(build: Build) -> str:
    return f"{registry_host()}/{published_repository(build)}@{build.digest}"


def test_a_published_image_is_signed_and_sigstores_verifier_accepts_its_attestations(published, member, outsider):
    build = published
    bundles = referrer_bundles(build)
    results = sigstore_verify(build, bundles)
    assert all(r["ok"] for r in results), results
    assert {r["predicateType"] for r in results} == ALL_TYPES
    # the SBOM attested is the very document the image's SBOM download serves
    statements = [json.loads(base64.b64decode(b["dsseEnvelope"]["payload"])) for b in bundles]
    attested = next(s["predicate"] for s in statements if s["predicateType"] == CYCLONEDX_PREDICATE_TYPE)
    assert attested["serialNumber"] == json.loads(sbom_response(build).content)["serialNumber"]

    # the same bundles under a key the portal never used: refused by the independent verifier too
    stranger = signing_key_generate()
    with_foreign_key = [{**b, "verificationMaterial": {"publicKey": {"hint": stranger.key_id}}} for b in bundles]
    assert not any(r["ok"] for r in sigstore_verify(build, with_foreign_key, {stranger.key_id: stranger.public_pem}))
    # and genuine bundles presented for another image
    other = "sha256:" + "0" * 64
    assert {r["error"] for r in sigstore_verify(build, bundles, digest=other)} == {"the statement is about another image"}

    # cosign's .att list: DSSE envelopes that securesystemslib verifies with the portal's public key
    client, repository = registry_client("scanner"), published_repository(build)
    public = SigningKey.objects.get(active=True)
    key = SSlibKey(public.key_id, "ecdsa", "ecdsa-sha2-nistp256", {"public": public.public_key})
    attestation_list = json.loads(client.manifest_bytes(repository, oci.attestation_tag(build.digest))[0])
    types = set()
    for layer in attestation_list["layers"]:
        envelope = Envelope.from_dict(json.loads(client.blob(repository, layer["digest"])))
        assert public.key_id in envelope.verify([key], 1)
        document = json.loads(envelope.payload)
        assert document["subject"][0]["digest"] == {"sha256": build.digest.removeprefix("sha256:")}
        types.add(layer["annotations"]["predicateType"])
    assert types == ALL_TYPES

    # cosign's .sig: the simple-signing payload names the digest, the ECDSA signature is over its bytes
    signature_list = json.loads(client.manifest_bytes(repository, oci.signature_tag(build.digest))[0])
    layer = signature_list["layers"][0]
    payload = client.blob(repository, layer["digest"])
    public_key_load(public.public_key).verify(base64.b64decode(layer["annotations"][oci.SIGNATURE_ANNOTATION]), payload,
                                              ec.ECDSA(hashes.SHA256()))
    assert json.loads(payload)["critical"]["image"]["docker-manifest-digest"] == build.digest

    # and the portal's own verification says yes, with every check named
    report = reference_verify(_reference(build))
    assert report.verified, report.reasons
    assert [c.name for c in report.checks] == ["signature", "provenance", "sbom", "verdict"]
    assert report.verdict["compliant"] is True and report.verdict["portal"]["build"] == build.pk
    assert build.attestations.filter(kind=Attestation.Kind.VERDICT, compliant=True).count() == 1

    # the API answers the same to the team, and nothing to a team that may not see the image
    api = APIClient()
    api.force_authenticate(member)
    answer = api.get("/api/images/verify/", {"ref": _reference(build)})
    assert answer.status_code == 200 and answer.json()["verified"] is True, answer.content
    api.force_authenticate(outsider)
    assert api.get("/api/images/verify/", {"ref": _reference(build)}).status_code == 404
    # and the image page says so
    page = Client()
    page.force_login(member)
    html = page.get(f"/builds/{build.pk}").content.decode()
    shown = " ".join(re.sub(r"<[^>]+>", "", html.split('id="signature">', 1)[1].split("</p>", 1)[0]).split())
    assert shown.startswith("✓ Signed, verdict attested until 20"), shown


def test_verification_refuses_forgeries_written_straight_into_the_registry(published):
    """Someone with push rights on published/ (the gate's credential stolen) adds a signature and a
    'compliant forever' verdict made with their own key, and edits a real bundle's payload."""
    build, client = published, registry_client("gate")
    repository = published_repository(build)
    mallory = signing_key_generate()
    name = f"{registry_host()}/{repository}"
    oci.signature_attach(client, repository, build.digest, simple_sign(docker_reference=name, digest=build.digest, key=mallory))
    forged = {"compliant": True, "state": "pass", "evaluatedAt": "2099-01-01T00:00:00Z", "validUntil": "2100-01-01T00:00:00Z"}
    envelope = dsse_sign(statement(name=name, digest=build.digest, predicate_type=VERDICT_PREDICATE_TYPE, predicate=forged), mallory)
    oci.bundle_attach(client, repository, build.digest, oci.SignedStatement(
        VERDICT_PREDICATE_TYPE, envelope, sigstore_bundle(envelope, mallory.key_id)), created=timezone.now())
    genuine = next(b for b in referrer_bundles(build) if b["verificationMaterial"]["publicKey"]["hint"] != mallory.key_id)
    edited = json.loads(base64.b64decode(genuine["dsseEnvelope"]["payload"]))
    edited["predicate"] = forged
    genuine["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(edited).encode()).decode()
    oci.bundle_attach(client, repository, build.digest, oci.SignedStatement(
        VERDICT_PREDICATE_TYPE, genuine["dsseEnvelope"], genuine), created=timezone.now())

    report = reference_verify(_reference(build))
    assert report.verified, report.reasons  # the genuine attachments still verify...
    assert report.verdict["evaluatedAt"] != "2099-01-01T00:00:00Z"  # ...and the forged verdicts are not the latest
    assert sum("no signature by a trusted portal key" in why for why in report.ignored) == 2, report.ignored
    assert sum(not r["ok"] for r in sigstore_verify(build, referrer_bundles(build))) == 2

    # with only the attacker's key trusted, nothing of the portal's verifies
    alone = reference_verify(_reference(build), keys={mallory.key_id: mallory.public_key})
    assert not alone.verified
    assert {c.name for c in alone.checks if not c.ok} >= {"provenance", "sbom"}


def test_a_verdict_turned_non_compliant_is_attested_and_verification_refuses_it(published, capsys):
    build = published
    BaseImage.objects.filter(slug="busybox").update(approved=False)  # the catalog withdraws the base
    assert not verdict_evaluate(build=build, trigger="reevaluation").passed

    assert attestations_refresh() == 1
    assert attestations_refresh() == 0, "nothing new to say: nothing signed again"
    verdicts = list(build.attestations.filter(kind=Attestation.Kind.VERDICT).order_by("created"))
    assert [v.compliant for v in verdicts] == [True, False], "the history stays, the latest says no"
    # cosign's .att holds the current statement of each type only (Kyverno and policy-controller judge
    # every statement there); the referrers keep the history
    client, repository = registry_client("scanner"), published_repository(build)
    layers = json.loads(client.manifest_bytes(repository, oci.attestation_tag(build.digest))[0])["layers"]
    verdict_layers = [layer for layer in layers if layer["annotations"]["predicateType"] == VERDICT_PREDICATE_TYPE]
    assert len(layers) == 3 and len(verdict_layers) == 1
    assert verdict_layers[0]["annotations"][oci.SIGNATURE_ANNOTATION] == "", "cosign refuses a layer without it"
    current = json.loads(base64.b64decode(json.loads(client.blob(repository, verdict_layers[0]["digest"]))["payload"]))
    assert current["predicate"]["compliant"] is False
    assert sum(r["predicateType"] == VERDICT_PREDICATE_TYPE for r in sigstore_verify(build, referrer_bundles(build))) == 2

    report = reference_verify(_reference(build))
    assert not report.verified
    assert report.reasons == [f"verdict: the latest verdict (evaluated {report.verdict['evaluatedAt']}) is not "
                              "compliant (Approved base image)"]
    # a replay: someone with push rights puts the old "compliant" back and lists only it in the index
    client = registry_client("gate")
    index = json.loads(client.manifest_bytes(repository, oci.referrers_tag(build.digest))[0])
    newest = verdicts[-1].manifest_digest
    index["manifests"] = [entry for entry in index["manifests"] if entry["digest"] != newest]
    client.put_manifest(repository, oci.referrers_tag(build.digest), index, OCI_INDEX)
    replayed = reference_verify(_reference(build))
    assert replayed.verdict["compliant"] is True, "offline, the old verdict looks like the newest"
    assert not replayed.verified and "an older verdict was put back" in replayed.reasons[0]
    with pytest.raises(SystemExit) as exit_status:
        call_command("image_verify", _reference(build))
    assert exit_status.value.code == 1
    assert "NOT verified" in capsys.readouterr().out


def test_an_expired_verdict_is_refused_and_the_refresh_renews_it(published):
    build = published
    until = build.attestations.get(kind=Attestation.Kind.VERDICT).valid_until
    later = until + timedelta(minutes=1)
    report = reference_verify(_reference(build), now=later)
    assert not report.verified and "expired at" in report.reasons[0]

    # a day before it runs out, the refresh judges the image again and signs a verdict that lasts
    assert attestations_refresh(now=until - timedelta(hours=1)) == 1
    renewed = build.attestations.filter(kind=Attestation.Kind.VERDICT).order_by("-created").first()
    assert renewed.compliant and renewed.valid_until > until


def test_after_a_key_rotation_everything_is_signed_again_and_both_keys_verify_during_the_overlap(published, tmp_path):
    build = published
    old = SigningKey.objects.get(active=True)
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(Path(settings.SIGNING_KEY_FILE).read_bytes())
    with override_settings(SIGNING_KEY_FILE=str(key_file)):
        new = signing_key_rotate(overlap_days=1)
        assert attestations_refresh() == 1
        kinds = set(build.attestations.filter(key_id=new.key_id).values_list("kind", flat=True))
        assert kinds == {"signature", "provenance", "sbom", "verdict"}
        assert set(trusted_public_keys()) == {old.key_id, new.key_id}
        assert reference_verify(_reference(build), keys=trusted_public_keys()).verified
        # with the old key alone (a cluster that never got the new one), the new verdict is ignored but
        # the old one still holds during the overlap
        old_only = {old.key_id: public_key_load(old.public_key)}
        assert reference_verify(_reference(build), keys=old_only).verified
        # once the overlap is over, the retired key is no longer trusted by the portal
        assert set(trusted_public_keys(timezone.now() + timedelta(days=2))) == {new.key_id}
        results = sigstore_verify(build, referrer_bundles(build))
        assert all(r["ok"] for r in results) and len(results) == 6
