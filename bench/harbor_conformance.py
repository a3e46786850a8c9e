"""Check a running portal's Harbor scanner adapter against the pluggable scanner spec (OpenAPI YAML).

    .venv/bin/python bench/harbor_conformance.py SPEC.yaml [SPEC.yaml ...] \
        --url http://127.0.0.1:8765/harbor/api/v1 --token "$HARBOR_ADAPTER_TOKEN"

Not a test: it talks to a live portal, whose Celery worker must be running (queue `scans`) for
the real scan of --image at --registry. For each spec file and each call it checks that the status
code is one the spec documents for that operation, that the Content-Type is one the spec gives for
that status, and that the body validates (jsonschema) against the spec's schema with $refs
resolved. Behaviour a spec version does not describe (501 and SBOM reports before v1.2) is
skipped for that version. Prints one line per check and "N passed, N failed"; exits 1 on a failure.
"""
import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import requests
import yaml
from jsonschema import Draft7Validator, FormatChecker

SCAN_REQUEST = "application/vnd.scanner.adapter.scan.request+json; version=1.0"
VULN_TYPES = ("application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0",
              "application/vnd.security.vulnerability.report; version=1.1")
SBOM_TYPE = "application/vnd.security.sbom.report+json; version=1.0"
OPERATIONS = {"metadata": ("/metadata", "get"), "scan": ("/scan", "post"),
              "report": ("/scan/{scan_request_id}/report", "get")}


@dataclass
class Outcome:
    passed: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)

    def record(self, ok: bool | None, name: str, detail: str = "") -> None:
        word = {True: "PASS", False: "FAIL", None: "SKIP"}[ok]
        if ok is True:
            self.passed += 1
        elif ok is False:
            self.failed += 1
        line = f"{word} {name}" + (f": {detail}" if detail else "")
        self.lines.append(line)
        print(line, flush=True)


def resolve(node: Any, spec: dict) -> Any:
    """The schema with every local $ref replaced by its target (the spec has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(target, spec)
        return {key: resolve(value, spec) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, spec) for item in node]
    return node


class Checker:
    def __init__(self, spec_path: str, args: argparse.Namespace, outcome: Outcome):
        with open(spec_path) as handle:
            self.spec = yaml.safe_load(handle)
        self.version = str(self.spec["info"]["version"])
        self.args, self.outcome = args, outcome
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {args.token}"

    def responses(self, operation: str) -> dict:
        path, method = OPERATIONS[operation]
        return {str(code): value for code, value in self.spec["paths"][path][method]["responses"].items()}

    def documents(self, operation: str, status: int) -> bool:
        return str(status) in self.responses(operation)

    def check(self, name: str, operation: str, response: requests.Response, *, status: int,
              content_type: str | None = None) -> Any:
        """Status as expected and documented, Content-Type documented, body valid. Returns the body."""
        label = f"[v{self.version}] {name}"
        documented = self.responses(operation).get(str(response.status_code))
        problems = []
        if response.status_code != status:
            problems.append(f"status {response.status_code}, expected {status} ({response.text[:200]!r})")
        if documented is None:
            problems.append(f"status {response.status_code} is not documented for {operation}")
        body = None
        content = (documented or {}).get("content") or {}
        got_type = response.headers.get("Content-Type", "")
        if content:
            if got_type not in content:
                problems.append(f"Content-Type {got_type!r} is not one of {sorted(content)}")
            elif content_type and got_type != content_type:
                problems.append(f"Content-Type {got_type!r}, asked for {content_type!r}")
            else:
                schema = resolve(content[got_type].get("schema") or {}, self.spec)
                try:
                    body = response.json()
                except ValueError:
                    problems.append("body is not JSON")
                else:
                    errors = sorted(Draft7Validator(schema, format_checker=FormatChecker()).iter_errors(body),
                                    key=lambda e: list(e.path))
                    problems += [f"schema: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5]]
        for header, definition in ((documented or {}).get("headers") or {}).items():
            value = response.headers.get(header)
            if value is None:
                problems.append(f"header {header} is missing")
            elif resolve(definition.get("schema", {}), self.spec).get("type") == "integer" and not value.isdigit():
                problems.append(f"header {header}={value!r} is not an integer")
        self.outcome.record(not problems, label, "; ".join(problems) or f"{response.status_code} {got_type}".strip())
        return body

    def skip(self, name: str, why: str) -> None:
        self.outcome.record(None, f"[v{self.version}] {name}", why)

    def url(self, path: str) -> str:
        return self.args.url.rstrip("/") + path

    def run(self, digest: str) -> None:
        produced = set()
        for accept in self.responses("metadata")["200"]["content"]:
            body = self.check(f"GET /metadata Accept {accept}", "metadata",
                              self.session.get(self.url("/metadata"), headers={"Accept": accept}),
                              status=200, content_type=accept)
            produced |= {m for c in (body or {}).get("capabilities", []) for m in c.get("produces_mime_types", [])}
        report_types = set(self.responses("report")["200"]["content"])
        self.outcome.record(produced <= report_types, f"[v{self.version}] metadata produces only report types the spec defines",
                            ", ".join(sorted(produced - report_types)) or ", ".join(sorted(produced)))
        unauthenticated = requests.get(self.url("/metadata"))
        self.outcome.record(unauthenticated.status_code == 401, f"[v{self.version}] GET /metadata without a token is refused",
                            str(unauthenticated.status_code))

        post = lambda data: self.session.post(self.url("/scan"), data=data, headers={"Content-Type": SCAN_REQUEST})  # noqa: E731
        self.check("POST /scan with invalid JSON", "scan", post("{not json"), status=400)
        self.check("POST /scan without artifact.digest", "scan",
                   post(json.dumps({"registry": {"url": self.args.registry},
                                    "artifact": {"repository": self.args.image[0]}})), status=422)
        request = {"registry": {"url": self.args.registry, "authorization": self.args.registry_authorization},
                   "artifact": {"repository": self.args.image[0], "digest": digest, "tag": self.args.image[1],
                                "mime_type": "application/vnd.docker.distribution.manifest.v2+json"}}
        accepted = self.check("POST /scan", "scan", post(json.dumps(request)), status=202)
        if not accepted:
            return
        report_url = self.url(f"/scan/{accepted['id']}/report")
        first = self.session.get(report_url, headers={"Accept": VULN_TYPES[-1]})
        if first.status_code == 302:
            self.check("GET report while scanning", "report", first, status=302)
        else:
            self.skip("GET report while scanning", f"the scan was done before the first poll ({first.status_code})")
        deadline = time.monotonic() + self.args.timeout
        while first.status_code == 302 and time.monotonic() < deadline:
            time.sleep(min(int(first.headers.get("Refresh-After", "1")), 2))
            first = self.session.get(report_url, headers={"Accept": VULN_TYPES[-1]})
        for accept in sorted(produced & set(VULN_TYPES)):
            self.check(f"GET report Accept {accept}", "report",
                       self.session.get(report_url, headers={"Accept": accept}), status=200, content_type=accept)
        if SBOM_TYPE in produced and SBOM_TYPE in report_types:
            for label, sbom_type in (("CycloneDX", "application/vnd.cyclonedx+json"), ("SPDX", "application/spdx+json")):
                self.check(f"GET SBOM report ({label})", "report",
                           self.session.get(report_url, params={"sbom_media_type": sbom_type},
                                            headers={"Accept": SBOM_TYPE}), status=200, content_type=SBOM_TYPE)
            self.check("GET SBOM report without sbom_media_type", "report",
                       self.session.get(report_url, headers={"Accept": SBOM_TYPE}), status=400)
        else:
            self.skip("SBOM report", "this spec version defines no SBOM report")
        self.check("GET report of an unknown id", "report",
                   self.session.get(self.url("/scan/999999999/report"), headers={"Accept": VULN_TYPES[-1]}), status=404)
        if self.documents("report", 501):
            self.check("GET report in an unsupported MIME type", "report",
                       self.session.get(report_url, headers={"Accept": "application/vnd.example.unknown+json"}), status=501)
        else:
            self.skip("GET report in an unsupported MIME type", "this spec version documents no status for it")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="+", help="harbor-scanner-adapter-openapi-v1.x.yaml")
    parser.add_argument("--url", default="http://127.0.0.1:8765/harbor/api/v1")
    parser.add_argument("--token", required=True)
    parser.add_argument("--registry", default="http://127.0.0.1:5000", help="Registry the portal's worker reads")
    parser.add_argument("--registry-authorization", default="", help="What Harbor would send for the registry, e.g. "
                        "\"Bearer $(manage.py registry_token scanner repository:base/debian:pull)\" (the portal's "
                        "registry answers its tokens only)")
    parser.add_argument("--image", default="base/debian:bookworm")
    parser.add_argument("--timeout", type=float, default=120, help="Seconds to wait for the scan")
    args = parser.parse_args()
    repository, _, tag = args.image.partition(":")
    args.image = (repository, tag or "latest")
    headers = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    if args.registry_authorization:
        headers["Authorization"] = args.registry_authorization
    digest = requests.head(f"{args.registry}/v2/{repository}/manifests/{args.image[1]}", timeout=10,
                           headers=headers).headers["Docker-Content-Digest"]
    outcome = Outcome()
    for spec in args.specs:
        Checker(spec, args, outcome).run(digest)
    print(f"{outcome.passed} passed, {outcome.failed} failed")
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())
