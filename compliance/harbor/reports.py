"""Harbor scanner adapter documents (spec v1.1/v1.2), built from plain data: no ORM, no HTTP.

Rows are the portal's findings as dicts (see `vulnerability_item` for the keys); the views
read them from the database and choose the MIME type, this module only shapes the JSON.
"""
from __future__ import annotations

import datetime
import re
from typing import Any

from compliance.vulndb.severity import Severity, cvss_score

# Media types, exactly as the spec spells them.
METADATA_1_0 = "application/vnd.scanner.adapter.metadata+json; version=1.0"
METADATA_1_1 = "application/vnd.scanner.adapter.metadata+json; version=1.1"
SCAN_RESPONSE = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
ERROR = "application/vnd.scanner.adapter.error+json; version=1.0"
VULN_HARBOR_1_0 = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
VULN_1_1 = "application/vnd.security.vulnerability.report; version=1.1"
SBOM_1_0 = "application/vnd.security.sbom.report+json; version=1.0"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CYCLONEDX = "application/vnd.cyclonedx+json"
SPDX = "application/spdx+json"

CONSUMES = [OCI_MANIFEST, DOCKER_MANIFEST_V2]
VULNERABILITY_REPORTS = [VULN_1_1, VULN_HARBOR_1_0]  # same schema; the first is the default
SBOM_MEDIA_TYPES = [CYCLONEDX, SPDX]  # Harbor asks for SPDX unless told otherwise
REPORTS = [*VULNERABILITY_REPORTS, SBOM_1_0]

# The portal's grades are Harbor's enum already; anything else is "Unknown". The spec's enum has
# no "None": a report without vulnerabilities leaves `severity` out rather than claim one.
_HARBOR_SEVERITIES = {s.label for s in Severity}


def harbor_severity(label: str) -> str:
    return label if label in _HARBOR_SEVERITIES else Severity.UNKNOWN.label


def metadata(*, scanner: dict[str, str], database_version: int | None,
             database_updated: datetime.datetime | None, version: str = METADATA_1_1) -> dict[str, Any]:
    """ScannerAdapterMetadata: what the portal consumes and produces, and how fresh its data is.

    Capability types (and so the SBOM capability) came with metadata version 1.1 (spec v1.2):
    a client asking for 1.0 gets the single vulnerability capability of spec v1.1."""
    properties = {"harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
                  "image-portal/package-types": "deb,apk,pypi,maven,npm"}
    if database_version is not None:
        properties["image-portal/vulnerability-database-version"] = str(database_version)
    if database_updated is not None:
        properties["harbor.scanner-adapter/vulnerability-database-updated-at"] = _rfc3339(database_updated)
    if version == METADATA_1_0:
        capabilities = [{"consumes_mime_types": CONSUMES, "produces_mime_types": VULNERABILITY_REPORTS}]
    else:
        capabilities = [
            {"type": "vulnerability", "consumes_mime_types": CONSUMES, "produces_mime_types": VULNERABILITY_REPORTS},
            {"type": "sbom", "consumes_mime_types": CONSUMES, "produces_mime_types": [SBOM_1_0],
             "additional_attributes": {"sbom_media_types": SBOM_MEDIA_TYPES}},
        ]
    return {"scanner": scanner, "capabilities": capabilities, "properties": properties}


def vulnerability_report(*, artifact: dict[str, str], scanner: dict[str, str], rows: list[dict[str, Any]],
                         generated_at: datetime.datetime) -> dict[str, Any]:
    """HarborVulnerabilityReport: one item per (vulnerability, package, version), worst first."""
    items: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        item = vulnerability_item(row)
        key = (item["id"], item["package"], item["version"])
        kept = items.get(key)
        # Two feeds (a DSA and the tracker, say) may name the same CVE: keep the worst grade.
        if kept is None or _rank(item["severity"]) > _rank(kept["severity"]):
            items[key] = item
    ordered = sorted(items.values(), key=lambda i: (-_rank(i["severity"]), i["id"], i["package"]))
    report: dict[str, Any] = {"generated_at": _rfc3339(generated_at), "artifact": artifact, "scanner": scanner}
    if ordered:
        report["severity"] = ordered[0]["severity"]
    report["vulnerabilities"] = ordered
    return report


def vulnerability_item(row: dict[str, Any]) -> dict[str, Any]:
    """VulnerabilityItem from a finding row with keys vulnerability_id, package, installed_version,
    fixed_version, severity, severity_source, and optionally advisory_id, summary, record,
    source_package, package_version, package_type, layer_index."""
    record = row.get("record") or {}
    item: dict[str, Any] = {
        "id": row["vulnerability_id"],
        "package": row["package"],
        "version": row["installed_version"],
        "severity": harbor_severity(row["severity"]),
    }
    if row.get("fixed_version"):
        item["fix_version"] = row["fixed_version"]
    description = row.get("summary") or record.get("summary") or record.get("details") or ""
    if description:
        item["description"] = description
    links = record_links(record, row["vulnerability_id"])
    if links:
        item["links"] = links
    cvss = record_cvss(record)
    if cvss:
        item["preferred_cvss"] = cvss
    cwes = record_cwes(record)
    if cwes:
        item["cwe_ids"] = cwes
    vendor = {key: row[key] for key in ("advisory_id", "severity_source", "source_package", "package_version",
                                        "package_type", "layer_index") if row.get(key) not in (None, "")}
    if vendor:
        item["vendor_attributes"] = vendor
    return item


def record_links(record: dict[str, Any], vulnerability_id: str) -> list[str]:
    """The record's reference URLs, advisory pages first; a CVE always links to its NVD page."""
    urls = [r["url"] for r in record.get("references") or []
            if isinstance(r, dict) and isinstance(r.get("url"), str) and r["url"].startswith(("https://", "http://"))]
    urls.sort(key=lambda url: 0 if "security-tracker" in url or "/advisories/" in url else 1)
    if vulnerability_id.startswith("CVE-"):
        nvd = f"https://nvd.nist.gov/vuln/detail/{vulnerability_id}"
        if nvd not in urls:
            urls.append(nvd)
    return list(dict.fromkeys(urls))[:20]


def record_cvss(record: dict[str, Any]) -> dict[str, Any]:
    """CVSSDetails from the record's OSV severity vectors (scores computed, not trusted)."""
    details: dict[str, Any] = {}
    entries = [e for e in record.get("severity") or [] if isinstance(e, dict) and isinstance(e.get("score"), str)]
    for entry in entries:
        vector = entry["score"].strip()
        score = cvss_score(vector)
        if score is None:
            continue
        if vector.startswith("CVSS:3.") and "vector_v3" not in details:
            details["vector_v3"], details["score_v3"] = vector, score
        elif not vector.startswith("CVSS:3.") and "vector_v2" not in details:
            details["vector_v2"], details["score_v2"] = vector, score
    return details


_CWE = re.compile(r"CWE-\d+")


def record_cwes(record: dict[str, Any]) -> list[str]:
    found = (record.get("database_specific") or {}).get("cwe_ids") or []
    return [c for c in found if isinstance(c, str) and _CWE.fullmatch(c)]


def sbom_report(*, artifact: dict[str, str], scanner: dict[str, str], sbom: dict[str, Any],
                media_type: str, generated_at: datetime.datetime) -> dict[str, Any]:
    """HarborSbomReport wrapping an SBOM document of `media_type`."""
    return {"generated_at": _rfc3339(generated_at), "artifact": artifact, "scanner": scanner,
            "media_type": media_type, "sbom": sbom}


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


def negotiate(accept: str, offered: list[str]) -> str | None:
    """The offered media type the Accept header prefers (the first offered for none or */*);
    None when it accepts none of them. A `version` parameter must match when given."""
    if not accept.strip():
        return offered[0]
    best: tuple[float, int, int, str] | None = None
    for order, part in enumerate(accept.split(",")):
        wanted, params = _media_type(part)
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 1.0
        if not wanted or quality <= 0:
            continue
        for offer in offered:
            media, offer_params = _media_type(offer)
            if wanted == "*/*" or (wanted.endswith("/*") and media.startswith(wanted[:-1])):
                specificity = 0
            elif wanted == media and all(offer_params.get(k) == v for k, v in params.items()):
                specificity = 1
            else:
                continue
            candidate = (quality, specificity, -order, offer)
            if best is None or candidate[:3] > best[:3]:
                best = candidate
            break  # offers are in preference order: the first that matches this entry wins
    return best[3] if best else None


def _media_type(text: str) -> tuple[str, dict[str, str]]:
    media, *raw = [p.strip() for p in text.split(";")]
    params = {}
    for item in raw:
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return media.lower(), params


def _rank(label: str) -> int:
    return Severity[label.upper()] if label.upper() in Severity.__members__ else Severity.UNKNOWN


def _rfc3339(moment: datetime.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
