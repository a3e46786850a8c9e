"""Where signatures and attestations live in the registry, beside the image they are about, in the
forms the verifiers read. Pure apart from the RegistryClient it is handed (no Django).

- `sha256-<hex>.sig`: cosign's simple-signing manifest, one layer per signature (cosign, Kyverno and
  policy-controller of every version read it);
- `sha256-<hex>.att`: cosign's attestation manifest, one DSSE envelope per layer (cosign 2, Kyverno);
- sigstore bundles as OCI 1.1 artifacts whose `subject` is the image, listed in the referrers index:
  the registry's referrers API where it has one, else the referrers tag `sha256-<hex>` (cosign 3).

Every attachment is added to what is there; nothing an earlier attestation wrote is removed, so a
verdict's history stays. The caller serialises writers of one image (a row lock on its build): the
lists here are read, extended and written back.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from adapters.registry import INDEX_TYPES, OCI_INDEX, OCI_MANIFEST, RegistryClient, RegistryError, sha256_digest
from compliance.attestations.envelopes import BUNDLE_MEDIA_TYPE, SimpleSignature

SIMPLE_SIGNING_LAYER = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
DSSE_LAYER = "application/vnd.dsse.envelope.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_BLOB = b"{}"
PREDICATE_ANNOTATION = "predicateType"  # cosign's name on .att layers
BUNDLE_CONTENT = "dev.sigstore.bundle.content"
BUNDLE_PREDICATE = "dev.sigstore.bundle.predicateType"
CREATED = "org.opencontainers.image.created"


def _tag(digest: str, suffix: str = "") -> str:
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64:
        raise ValueError(f"not an image digest: {digest!r}")
    return f"{algorithm}-{hexdigest}{suffix}"


def signature_tag(digest: str) -> str:
    return _tag(digest, ".sig")


def attestation_tag(digest: str) -> str:
    return _tag(digest, ".att")


def referrers_tag(digest: str) -> str:
    return _tag(digest)


def _manifest_or_none(client: RegistryClient, repository: str, reference: str) -> dict | None:
    if client.manifest_digest(repository, reference) is None:
        return None
    body, _, _ = client.manifest_bytes(repository, reference)
    return json.loads(body)


def _layered_manifest(client: RegistryClient, repository: str, tag: str, layer: dict, blob: bytes) -> str:
    """Add `layer` (whose content is `blob`) to the cosign-style manifest at `tag`, keeping the layers
    there; the config lists the layers as cosign writes it. Returns the manifest's digest."""
    client.upload_blob(repository, blob)
    existing = _manifest_or_none(client, repository, tag)
    layers = [entry for entry in (existing or {}).get("layers", []) if entry != layer]
    layers.append(layer)
    config = json.dumps({"architecture": "", "os": "", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [entry["digest"] for entry in layers]}},
                        sort_keys=True, separators=(",", ":")).encode()
    config_digest = client.upload_blob(repository, config)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)}, "layers": layers}
    return client.put_manifest(repository, tag, manifest, OCI_MANIFEST)


def signature_attach(client: RegistryClient, repository: str, digest: str, signature: SimpleSignature) -> str:
    layer = {"mediaType": SIMPLE_SIGNING_LAYER, "digest": sha256_digest(signature.payload), "size": len(signature.payload),
             "annotations": {SIGNATURE_ANNOTATION: signature.signature}}
    return _layered_manifest(client, repository, signature_tag(digest), layer, signature.payload)


def attestation_attach(client: RegistryClient, repository: str, digest: str, envelope: dict, predicate_type: str) -> str:
    blob = json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()
    layer = {"mediaType": DSSE_LAYER, "digest": sha256_digest(blob), "size": len(blob),
             "annotations": {PREDICATE_ANNOTATION: predicate_type}}
    return _layered_manifest(client, repository, attestation_tag(digest), layer, blob)


def bundle_attach(client: RegistryClient, repository: str, digest: str, bundle: dict, *, predicate_type: str,
                  created: datetime) -> str:
    """Store `bundle` as an artifact referring to the image and list it in the referrers tag index;
    returns the artifact manifest's digest."""
    subject_body, subject_type, subject_digest = client.manifest_bytes(repository, digest)
    blob = json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
    blob_digest = client.upload_blob(repository, blob)
    empty_digest = client.upload_blob(repository, EMPTY_BLOB)
    annotations = {BUNDLE_CONTENT: "dsse-envelope", BUNDLE_PREDICATE: predicate_type,
                   CREATED: created.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty_digest, "size": len(EMPTY_BLOB)},
        "layers": [{"mediaType": BUNDLE_MEDIA_TYPE, "digest": blob_digest, "size": len(blob)}],
        "subject": {"mediaType": subject_type, "digest": subject_digest, "size": len(subject_body)},
        "annotations": annotations,
    }
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = client.put_manifest(repository, sha256_digest(body), body, OCI_MANIFEST)
    index = _manifest_or_none(client, repository, referrers_tag(digest)) or {
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    if not any(entry.get("digest") == manifest_digest for entry in index["manifests"]):
        index["manifests"].append({"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(body),
                                   "artifactType": BUNDLE_MEDIA_TYPE, "annotations": annotations})
        client.put_manifest(repository, referrers_tag(digest), index, OCI_INDEX)
    return manifest_digest


# -- reading ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Referrer:
    manifest_digest: str
    predicate_type: str
    created: str


def referrers(client: RegistryClient, repository: str, digest: str) -> list[Referrer]:
    """The sigstore bundles listed for the image: the referrers API when the registry has one (any
    answer but 404), else the referrers tag."""
    index = client.referrers(repository, digest)
    if index is None:
        index = _manifest_or_none(client, repository, referrers_tag(digest)) or {"manifests": []}
    found = []
    for entry in index.get("manifests", []):
        if entry.get("artifactType") == BUNDLE_MEDIA_TYPE and entry.get("mediaType") not in INDEX_TYPES:
            annotations = entry.get("annotations") or {}
            found.append(Referrer(entry["digest"], annotations.get(BUNDLE_PREDICATE, ""), annotations.get(CREATED, "")))
    return found


def bundle_read(client: RegistryClient, repository: str, referrer: Referrer, digest: str) -> dict:
    """The bundle an artifact manifest holds; RegistryError when the manifest does not refer to `digest`."""
    body, _, _ = client.manifest_bytes(repository, referrer.manifest_digest)
    manifest = json.loads(body)
    if (manifest.get("subject") or {}).get("digest") != digest:
        raise RegistryError(f"artifact {referrer.manifest_digest} refers to another image")
    layers = [entry for entry in manifest.get("layers", []) if entry.get("mediaType") == BUNDLE_MEDIA_TYPE]
    if len(layers) != 1:
        raise RegistryError(f"artifact {referrer.manifest_digest} does not hold exactly one bundle")
    return json.loads(client.blob(repository, layers[0]["digest"]))


def signatures_read(client: RegistryClient, repository: str, digest: str) -> list[SimpleSignature]:
    """The simple-signing payloads and signatures at `sha256-<hex>.sig` ([] when the image has none)."""
    manifest = _manifest_or_none(client, repository, signature_tag(digest))
    found = []
    for layer in (manifest or {}).get("layers", []):
        signature = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
        if layer.get("mediaType") == SIMPLE_SIGNING_LAYER and signature:
            found.append(SimpleSignature(client.blob(repository, layer["digest"]), signature))
    return found
