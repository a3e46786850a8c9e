"""The predicates the portal attests, from plain values. Pure: no Django.

- SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance): what the image was built from and by
  what, with checksums for every input a reviewer may want to match;
- the verdict (VERDICT_PREDICATE_TYPE, schema in schemas/verdict-v1.schema.json): the policy outcome
  at the time of signing, the rules and data it was computed under, the exceptions it relied on, and
  `validUntil`, after which no verifier should accept it;
- the SBOM is CycloneDX JSON as compliance/sbom writes it (CYCLONEDX_PREDICATE_TYPE, as cosign names it).
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

# Identifiers, not addresses: the same on every installation, so admission policies are portable.
TYPE_BASE = "https://image-portal.dev"
SLSA_PROVENANCE_TYPE = "https://slsa.dev/provenance/v1"
VERDICT_PREDICATE_TYPE = f"{TYPE_BASE}/attestations/verdict/v1"
CYCLONEDX_PREDICATE_TYPE = "https://cyclonedx.org/bom"
VERDICT_SCHEMA_PATH = Path(__file__).with_name("schemas") / "verdict-v1.schema.json"
SEVERITIES = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def sha256_text(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _oci_uri(reference: str) -> tuple[str, dict]:
    """`host/repo@sha256:<hex>` as a SLSA resource: an oci:// uri and its digest."""
    name, _, digest = reference.partition("@")
    algorithm, _, hexdigest = digest.partition(":")
    return f"oci://{name}", ({algorithm: hexdigest} if hexdigest else {})


@dataclass(frozen=True)
class BuildRecord:
    """What provenance says of one build, read from the Build row by the caller."""

    portal_url: str
    build_id: int
    team: str
    recipe: str
    kind: str  # composed | dockerfile
    snapshot: dict
    composition_sha256: str
    started: datetime | None
    finished: datetime | None
    worker: str
    dockerfile: str
    script_stage: str = ""
    build_stage: str = ""
    portal_version: str = ""


def _scripts_as_checksums(snapshot: dict) -> tuple[dict, list[dict]]:
    """The snapshot with each script's text replaced by its sha256 (the scripts themselves stay in the
    portal), and the scripts as resolved dependencies."""
    recorded, scripts = copy.deepcopy(snapshot), []
    if recorded.get("image_script"):
        text = recorded.pop("image_script")
        recorded["image_script_sha256"] = sha256_text(text)
        origin = recorded.get("image_script_origin") or ".paas/image-env.sh"
        scripts.append({"name": f"image-env script ({origin})", "digest": {"sha256": recorded["image_script_sha256"]}})
    stage = recorded.get("build_stage")
    if isinstance(stage, dict) and stage.get("script"):
        text = stage.pop("script")
        stage["script_sha256"] = sha256_text(text)
        origin = stage.get("script_origin") or "package"
        scripts.append({"name": f"build-env script ({origin if origin != 'package' else '.paas/build-env.sh'})",
                        "digest": {"sha256": stage["script_sha256"]}})
    if recorded.get("submitted_dockerfile"):
        recorded["submitted_dockerfile_sha256"] = sha256_text(recorded.pop("submitted_dockerfile"))
    for component in recorded.get("components") or []:  # the fragments are the catalog's, named by version
        for text_field in ("fragment", "final_fragment"):
            if component.get(text_field):
                component[f"{text_field}_sha256"] = sha256_text(component.pop(text_field))
    return recorded, scripts


def provenance(record: BuildRecord) -> dict:
    snapshot, scripts = _scripts_as_checksums(record.snapshot)
    dependencies = []
    bases = dict(snapshot.get("bases") or {})
    if snapshot.get("base_reference"):
        bases.setdefault("base", snapshot["base_reference"])
    stage = snapshot.get("build_stage")
    if isinstance(stage, dict) and stage.get("base_reference"):
        bases.setdefault("build-stage base", stage["base_reference"])
    for name, reference in sorted(bases.items()):
        uri, digest = _oci_uri(reference)
        dependencies.append({"name": name, "uri": uri, "digest": digest})
    for component in snapshot.get("components") or []:
        dependencies.append({"name": f"component {component['slug']}", "uri": f"{record.portal_url}/api/catalog/components/{component['slug']}/",
                             "annotations": {"version": component.get("version", ""), "kind": component.get("kind", "")}})
    artifact = snapshot.get("artifact") or snapshot.get("context")
    if isinstance(artifact, dict) and artifact.get("sha256"):
        dependencies.append({"name": artifact.get("filename") or "context", "digest": {"sha256": artifact["sha256"]}})
    dependencies.extend(scripts)
    byproducts = [{"name": "Dockerfile", "digest": {"sha256": sha256_text(record.dockerfile)}}]
    for name, text in (("image-env stage Dockerfile", record.script_stage), ("build stage Dockerfile", record.build_stage)):
        if text:
            byproducts.append({"name": name, "digest": {"sha256": sha256_text(text)}})
    return {
        "buildDefinition": {
            "buildType": f"{TYPE_BASE}/build-types/{record.kind}/v1",
            "externalParameters": {"team": record.team, "recipe": record.recipe, "kind": record.kind, "snapshot": snapshot},
            "internalParameters": {"compositionSha256": record.composition_sha256},
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {"id": f"{record.portal_url}/builders/docker-engine/v1",
                        **({"version": {"image-portal": record.portal_version}} if record.portal_version else {})},
            "metadata": {"invocationId": f"{record.portal_url}/builds/{record.build_id}",
                         "startedOn": rfc3339(record.started), "finishedOn": rfc3339(record.finished)},
            "byproducts": [*byproducts, {"name": "worker", "annotations": {"worker": record.worker}}],
        },
    }


@dataclass(frozen=True)
class AppliedException:
    id: int
    target_kind: str
    target: str
    expires: datetime


@dataclass(frozen=True)
class VerdictRecord:
    """What the verdict predicate says, read from the Verdict row and its context by the caller."""

    verdict_id: int
    build_id: int
    team: str
    state: str  # pass | blocked | not-assessed
    passed: bool
    evaluated: datetime
    trigger: str
    policy_version: str
    ruleset_sha256: str
    results: list[dict]
    counts: dict[str, int]
    data_version: int | None
    data_imported: datetime | None
    data_max_age_days: int
    not_assessed: str = ""
    exceptions: list[AppliedException] = field(default_factory=list)


def verdict_valid_until(record: VerdictRecord) -> datetime:
    """The earliest of: an exception's expiry, and the moment the vulnerability data it was computed
    with becomes too old. An image whose packages need no data (or whose data was missing, a verdict
    that says so) is judged again after the same age limit, counted from its evaluation."""
    data_limit = (record.data_imported or record.evaluated) + timedelta(days=record.data_max_age_days)
    return min([data_limit, *(e.expires for e in record.exceptions)])


def verdict(record: VerdictRecord) -> dict:
    return {
        "compliant": record.passed,  # the team's policy decides: data it only warns about does not block
        "state": record.state,
        "evaluatedAt": rfc3339(record.evaluated),
        "validUntil": rfc3339(verdict_valid_until(record)),
        "trigger": record.trigger,
        "policy": {"version": record.policy_version, "rulesetSha256": record.ruleset_sha256},
        "vulnerabilityData": {"version": record.data_version, "importedAt": rfc3339(record.data_imported),
                              "maxAgeDays": record.data_max_age_days, "notAssessed": record.not_assessed},
        "findings": {severity: int(record.counts.get(severity, 0)) for severity in SEVERITIES},
        "rules": [{"rule": r.get("rule", ""), "title": r.get("title", ""), "status": r.get("status", "")}
                  for r in record.results],
        "exceptions": [{"id": e.id, "targetKind": e.target_kind, "target": e.target, "expiresAt": rfc3339(e.expires)}
                       for e in record.exceptions],
        "portal": {"team": record.team, "build": record.build_id, "verdict": record.verdict_id},
    }


def verdict_schema() -> dict:
    return json.loads(VERDICT_SCHEMA_PATH.read_text())
