"""Verify a published image as a cluster's admission would: the portal's signature on its digest,
its provenance and SBOM attestations, and its latest verdict attestation, compliant and unexpired.

Offline: only the registry and the public keys are needed (no transparency log, no certificate
authority). `image_verify` is pure apart from the RegistryClient it is handed; the keys come in as
{key id: public key}, from the portal's rows (keyring.trusted_public_keys) or from a file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from adapters.registry import RegistryClient, RegistryError
from compliance.attestations import oci
from compliance.attestations.envelopes import EnvelopeInvalid, bundle_envelope, dsse_verify, simple_verify, subject_digests
from compliance.attestations.predicates import CYCLONEDX_PREDICATE_TYPE, SLSA_PROVENANCE_TYPE, VERDICT_PREDICATE_TYPE

REQUIRED = {SLSA_PROVENANCE_TYPE: "provenance", CYCLONEDX_PREDICATE_TYPE: "SBOM"}


@dataclass(frozen=True)
class Check:
    name: str  # signature, provenance, sbom, verdict
    ok: bool
    detail: str


@dataclass
class VerificationReport:
    repository: str
    digest: str
    checks: list[Check] = field(default_factory=list)
    verdict: dict | None = None  # the latest verified verdict predicate
    ignored: list[str] = field(default_factory=list)  # attachments that did not verify, and why

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]

    def to_dict(self) -> dict:
        return {"verified": self.verified, "repository": self.repository, "digest": self.digest,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
                "verdict": self.verdict, "ignored": self.ignored}


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _signature_check(client: RegistryClient, repository: str, digest: str, keys: dict, report: VerificationReport) -> Check:
    signatures = oci.signatures_read(client, repository, digest)
    if not signatures:
        return Check("signature", False, f"the image has no signature ({oci.signature_tag(digest)} is absent)")
    for signature in signatures:
        try:
            signer = simple_verify(signature.payload, signature.signature, digest=digest, public_keys=list(keys.values()))
        except (EnvelopeInvalid, ValueError) as error:
            report.ignored.append(f"signature: {error}")
            continue
        return Check("signature", True, f"signed by portal key {signer[:16]}")
    return Check("signature", False, "no signature was made by a trusted portal key: " + "; ".join(report.ignored[-3:]))


def _statements(client: RegistryClient, repository: str, digest: str, keys: dict, report: VerificationReport) -> list[dict]:
    """The verified in-toto statements about `digest`, each with the key that signed it."""
    found = []
    for referrer in oci.referrers(client, repository, digest):
        try:
            bundle = oci.bundle_read(client, repository, referrer, digest)
            hint = (bundle.get("verificationMaterial") or {}).get("publicKey", {}).get("hint", "")
            document, signer = dsse_verify(bundle_envelope(bundle), [keys[hint]] if hint in keys else list(keys.values()))
        except (EnvelopeInvalid, RegistryError, ValueError) as error:
            report.ignored.append(f"{referrer.predicate_type or 'attachment'} {referrer.manifest_digest[:19]}: {error}")
            continue
        if digest not in subject_digests(document):
            report.ignored.append(f"{document.get('predicateType')} {referrer.manifest_digest[:19]}: it is about another image")
            continue
        found.append(document)
    return found


def _verdict_check(statements: list[dict], now: datetime, report: VerificationReport) -> Check:
    verdicts = [s["predicate"] for s in statements if s.get("predicateType") == VERDICT_PREDICATE_TYPE
                and isinstance(s.get("predicate"), dict) and _parse_time(s["predicate"].get("evaluatedAt"))]
    if not verdicts:
        return Check("verdict", False, "no verdict attestation signed by the portal")
    latest = max(verdicts, key=lambda p: (_parse_time(p["evaluatedAt"]), (p.get("portal") or {}).get("verdict", 0)))
    report.verdict = latest
    until = _parse_time(latest.get("validUntil"))
    evaluated = latest["evaluatedAt"]
    if latest.get("compliant") is not True:
        failed = [r.get("title") or r.get("rule") for r in latest.get("rules", []) if r.get("status") == "fail"]
        why = f" ({', '.join(failed[:5])})" if failed else (f" ({latest.get('state')})" if latest.get("state") else "")
        return Check("verdict", False, f"the latest verdict (evaluated {evaluated}) is not compliant{why}")
    if until is None or until <= now:
        return Check("verdict", False, f"the latest verdict (evaluated {evaluated}) expired at {latest.get('validUntil')}")
    return Check("verdict", True, f"compliant, evaluated {evaluated}, valid until {latest['validUntil']}")


def image_verify(client: RegistryClient, *, repository: str, digest: str, keys: dict, now: datetime) -> VerificationReport:
    """Every check, each with its reason; `verified` only when all pass. No key: nothing verifies."""
    report = VerificationReport(repository, digest)
    if not keys:
        report.checks.append(Check("keys", False, "no trusted portal key to verify with"))
        return report
    report.checks.append(_signature_check(client, repository, digest, keys, report))
    statements = _statements(client, repository, digest, keys, report)
    types = {s.get("predicateType") for s in statements}
    for predicate_type, name in REQUIRED.items():
        report.checks.append(Check(name.lower(), predicate_type in types,
                                   "attested" if predicate_type in types else f"no {name} attestation signed by the portal"))
    report.checks.append(_verdict_check(statements, now, report))
    return report
