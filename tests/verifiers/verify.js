// Verify sigstore bundles with sigstore's own JavaScript verifier (@sigstore/verify), not the
// portal's code. Reads JSON on stdin: {"publicKeys": {"<key id>": "<PEM>"}, "digest": "sha256:...",
// "bundles": [<bundle>...]}. Prints one JSON line: [{"ok": bool, "error": str, "predicateType": str}]
// per bundle. A bundle is accepted when its DSSE signature verifies with the key its hint names and
// its in-toto statement's subject is the given digest (the verifier checks signatures; what the
// statement is about is ours to check, as cosign does).
"use strict";
const crypto = require("crypto");
const { bundleFromJSON } = require("@sigstore/bundle");
const { Verifier, toSignedEntity, toTrustMaterial } = require("@sigstore/verify");

const EMPTY_TRUSTED_ROOT = {
  mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
  tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [],
};

function verifyOne(input, json) {
  const bundle = bundleFromJSON(json);
  const trust = toTrustMaterial(EMPTY_TRUSTED_ROOT, (hint) => {
    const pem = input.publicKeys[hint];
    if (!pem) throw new Error(`no trusted key ${hint}`);
    return { publicKey: crypto.createPublicKey(pem), validFor: () => true };
  });
  // A key-signed bundle with no transparency log entry and no timestamp: only the key is trusted.
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundle));
  const statement = JSON.parse(Buffer.from(json.dsseEnvelope.payload, "base64").toString("utf8"));
  const [algorithm, hex] = input.digest.split(":");
  if (!(statement.subject || []).some((s) => s.digest && s.digest[algorithm] === hex)) {
    throw new Error("the statement is about another image");
  }
  return statement.predicateType;
}

let text = "";
process.stdin.on("data", (chunk) => { text += chunk; });
process.stdin.on("end", () => {
  const input = JSON.parse(text);
  const results = input.bundles.map((json) => {
    try {
      return { ok: true, error: "", predicateType: verifyOne(input, json) };
    } catch (error) {
      return { ok: false, error: String(error && error.message || error), predicateType: "" };
    }
  });
  process.stdout.write(JSON.stringify(results) + "\n");
});
