"""Signed verdicts: every published image carries the portal's signature, its build provenance,
its verdict and its SBOM as DSSE-signed in-toto statements, attached to its digest in the registry,
verifiable offline with the portal's public keys (by cosign, by sigstore's libraries, by Kyverno).

- keys: the signing key (ECDSA P-256), its key id and PEM forms (pure);
- envelopes: in-toto statements, DSSE envelopes, sigstore bundles, simple-signing payloads (pure);
- predicates: SLSA provenance v1 and the verdict predicate, from plain values (pure);
- oci: where attachments live in the registry: `sha256-<hex>.sig`, `.att` and the referrers tag (pure);
- keyring: the keys the portal signs and verifies with (rows; the private key in a file or the environment);
- services: attesting at publication, and again whenever the verdict changes or a key retires;
- verify: checking an image's signature and attestations, with the reasons when it refuses.
"""
