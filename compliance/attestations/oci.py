"""Where signatures and attestations live in the registry, beside the image they are about, in the
forms the verifiers read. Pure apart from the RegistryClient it is handed (no Django).

- `sha256-<hex>.sig`: cosign's simple-signing manifest, one layer per signature (cosign, Kyverno and
  policy-controller of every version read it);
- `sha256-<hex>.att`: cosign's attestation manifest, the current DSSE envelope of each predicate
  type, one per layer (cosign 2, Kyverno, policy-controller);
- sigstore bundles as OCI 1.1 artifacts whose `subject` is the image, listed in the referrers index:
  the registry's referrers API where it has one, else the referrers tag `sha256-<hex>` (cosign 3).

Signatures and bundles are added to what is there, so a verdict's history stays in the referrers
index; `.att` keeps the latest of each type. The caller serialises writers of one image (an advisory
lock on repository@digest, services._image_lock): the lists here are read, extended and written back.
"""
from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property

from adapters.registry import INDEX_TYPES, OCI_INDEX, OCI_MANIFEST, RegistryClient, RegistryError, sha256_digest
from adapters.registry_batch import RequestBatch
from compliance.attestations.envelopes import BUNDLE_MEDIA_TYPE, SimpleSignature, canonical

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
    found = client.manifest_bytes_or_none(repository, reference)
    return json.loads(found[0]) if found else None


def _lists_read(client: RegistryClient, repository: str, tags: list[str], batch: RequestBatch) -> dict[str, Future]:
    """{tag: future of its manifest or None}. The repository's tag list is asked first: an image
    attested for the first time (every publication) has none of them, and one request saying so
    costs the registry a third of asking for each."""
    present = set(client.tags(repository))
    return {tag: batch.submit(_manifest_or_none, client, repository, tag) if tag in present else _done(None)
            for tag in tags}


def _done(value) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


# registry URL -> a repository this process put the empty config blob in: bundle artifacts of the
# next image mount it from there (one request) instead of asking for it and uploading it (three).
_empty_blob_holders: dict[str, str] = {}


def _empty_blob_put(client: RegistryClient, repository: str) -> str:
    holder = _empty_blob_holders.get(client.base_url)
    if holder is None or holder == repository:
        digest = client.upload_blob(repository, EMPTY_BLOB)
    else:  # a holder since emptied or out of reach answers 202: the bytes go up in that session
        digest = sha256_digest(EMPTY_BLOB)
        client.mount_blob(repository, digest, holder, data=EMPTY_BLOB)
    _empty_blob_holders[client.base_url] = repository
    return digest


@dataclass(frozen=True)
class SignedStatement:
    """One in-toto statement as the registry keeps it: its DSSE envelope (for `.att`) and the
    sigstore bundle around the same envelope (the referrer artifact)."""
    predicate_type: str
    envelope: dict
    bundle: dict

    # Serialised once: the bytes uploaded are the bytes the layer and the artifact name by digest.
    @cached_property
    def envelope_blob(self) -> bytes:
        return canonical(self.envelope)

    @cached_property
    def bundle_blob(self) -> bytes:
        return canonical(self.bundle)


def _layers_config(layers: list[dict]) -> bytes:
    """The config cosign writes for its `.sig`/`.att` manifests (the layers as diff ids)."""
    return canonical({"architecture": "", "os": "", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": [entry["digest"] for entry in layers]}})


def _list_manifest(config: bytes, config_digest: str, layers: list[dict]) -> dict:
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)}, "layers": layers}


def _signature_layer(signature: SimpleSignature) -> dict:
    return {"mediaType": SIMPLE_SIGNING_LAYER, "digest": sha256_digest(signature.payload), "size": len(signature.payload),
            "annotations": {SIGNATURE_ANNOTATION: signature.signature}}


def _attestation_layer(statement: SignedStatement) -> dict:
    blob = statement.envelope_blob
    # cosign copies each layer with its signature annotation, empty for DSSE, and refuses one without it
    return {"mediaType": DSSE_LAYER, "digest": sha256_digest(blob), "size": len(blob),
            "annotations": {PREDICATE_ANNOTATION: statement.predicate_type, SIGNATURE_ANNOTATION: ""}}


def _artifact(statement: SignedStatement, subject: tuple[bytes, str, str], empty_digest: str, stamp: str) -> tuple[dict, bytes]:
    """The referrer manifest holding `statement`'s bundle, and the annotations its index entry repeats."""
    blob = statement.bundle_blob
    subject_body, subject_type, subject_digest = subject
    annotations = {BUNDLE_CONTENT: "dsse-envelope", BUNDLE_PREDICATE: statement.predicate_type, CREATED: stamp}
    return annotations, canonical({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty_digest, "size": len(EMPTY_BLOB)},
        "layers": [{"mediaType": BUNDLE_MEDIA_TYPE, "digest": sha256_digest(blob), "size": len(blob)}],
        "subject": {"mediaType": subject_type, "digest": subject_digest, "size": len(subject_body)},
        "annotations": annotations})


def attachments_write(client: RegistryClient, repository: str, digest: str, *, signature: SimpleSignature | None = None,
                      statements: list[SignedStatement] = (), created: datetime | None = None,
                      subject: tuple[bytes, str, str] | None = None, image_written: Future | None = None,
                      first: bool = False, batch: RequestBatch | None = None) -> dict[str, str]:
    """Attach a signature and statements to the image `digest` in one pass (about 26 requests for a
    signature and three statements), each request sent as soon as what it names is in the registry.
    Returns {"signature": .sig manifest digest, predicate type: artifact manifest digest}.

    `subject`: the image's manifest (bytes, media type, digest) when the caller has it (the gate read
    it from quarantine to copy it); otherwise it is read from `repository`.
    `image_written`: the image is still being copied into `repository` (by `batch`, whose requests
    this pass joins). Blobs and the bundle artifacts (manifests by digest, which no tag or list names
    yet) go up meanwhile; the tags that make them findable (`.sig`, `.att`, the referrers index) are
    written only once the copy succeeded, and the copy's error is raised before any is. The critical
    path after the copy is then one round trip.
    `first`: the caller knows no signature or attestation of this image is in `repository` (the gate's
    first publication of it: the database records every one written), so no list is read.

    - `.sig` keeps every earlier signature (during a key rotation both keys' signatures are there);
    - `.att` holds the latest statement of each predicate type only: cosign, Kyverno and
      policy-controller judge every statement they find there, so an old verdict must not linger;
    - the referrers index keeps them all: the history, each with its creation time."""
    statements = list(statements)
    lists = ([signature_tag(digest)] if signature else []) + ([attestation_tag(digest)] if statements else [])
    new_layers = {signature_tag(digest): [_signature_layer(signature)] if signature else [],
                  attestation_tag(digest): [_attestation_layer(s) for s in statements]}
    replaced = {s.predicate_type for s in statements}
    blobs = ([signature.payload] if signature else []) + [s.envelope_blob for s in statements] + [
        s.bundle_blob for s in statements]
    stamp = (created or datetime.now(tz=timezone.utc)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    written: dict[str, str] = {}
    own_batch = batch is None
    batch = batch or RequestBatch()
    try:
        # what is there now, and every new blob (signatures are random: never there yet), all at once
        holder = _empty_blob_holders.get(client.base_url)
        if statements and holder and holder != repository:
            client.authorize(f"repository:{holder}:pull")  # the mount reads it: no 401 first
        wanted = lists + ([referrers_tag(digest)] if statements else [])
        existing = (_done({tag: _done(None) for tag in wanted}) if first
                    else batch.submit(_lists_read, client, repository, wanted, batch))
        empty = batch.submit(_empty_blob_put, client, repository) if statements else None
        if statements and subject is None:
            subject = batch.submit(client.manifest_bytes, repository, digest) if image_written is None else image_written
        uploads = [batch.submit(client.upload_blob, repository, blob, new=True) for blob in blobs]
        # each list's new layers and config, sent as soon as the list was read
        layers, configs = {}, {}
        existing = existing.result()
        index = existing.get(referrers_tag(digest))
        for tag in lists:
            kept = [entry for entry in (existing[tag].result() or {}).get("layers", [])
                    if tag == signature_tag(digest) or (entry.get("annotations") or {}).get(PREDICATE_ANNOTATION) not in replaced]
            layers[tag] = kept + new_layers[tag]
            config = _layers_config(layers[tag])
            configs[tag] = (config, batch.submit(client.upload_blob, repository, config, new=True))
        for future in uploads:
            future.result()
        if isinstance(subject, Future):
            subject = subject.result()
        artifacts = []
        for statement in statements:  # by digest: nothing names them until the referrers index does
            annotations, body = _artifact(statement, subject, empty.result(), stamp)
            artifacts.append((statement.predicate_type, annotations, body,
                              batch.submit(client.put_manifest, repository, sha256_digest(body), body, OCI_MANIFEST)))
        list_bodies = {tag: _list_manifest(config, upload.result(), layers[tag]) for tag, (config, upload) in configs.items()}
        if statements:
            document = index.result() or {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
            listed = {entry.get("digest") for entry in document["manifests"]}
            for predicate_type, annotations, body, put in artifacts:
                written[predicate_type] = put.result()
                if written[predicate_type] not in listed:
                    document["manifests"].append({"mediaType": OCI_MANIFEST, "digest": written[predicate_type],
                                                  "size": len(body), "artifactType": BUNDLE_MEDIA_TYPE, "annotations": annotations})
        if image_written is not None:
            image_written.result()  # copied (or raises): tags may now name the image
        tag_puts = {tag: batch.submit(client.put_manifest, repository, tag, body, OCI_MANIFEST)
                    for tag, body in list_bodies.items()}
        if statements:
            client.put_manifest(repository, referrers_tag(digest), document, OCI_INDEX)
        lists_written = {tag: put.result() for tag, put in tag_puts.items()}
    finally:
        if own_batch:  # nothing of this pass is still writing when it returns or raises (a retry follows)
            batch.settle()
    if signature:
        written["signature"] = lists_written[signature_tag(digest)]
    return written


def signature_attach(client: RegistryClient, repository: str, digest: str, signature: SimpleSignature) -> str:
    return attachments_write(client, repository, digest, signature=signature)["signature"]


def bundle_attach(client: RegistryClient, repository: str, digest: str, statement: SignedStatement, *,
                  created: datetime) -> str:
    """One statement: its bundle as a referrer, its envelope in `.att`; the artifact's digest."""
    return attachments_write(client, repository, digest, statements=[statement], created=created)[statement.predicate_type]


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
