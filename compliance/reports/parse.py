"""Trivy and Grype JSON reports -> findings in the portal's terms (pure: no ORM, no I/O).

Trivy (`trivy image -f json`): `Results[].Vulnerabilities[]` with VulnerabilityID, PkgName,
InstalledVersion, FixedVersion, Severity (UNKNOWN..CRITICAL); `Results[].Type` names the
package manager. Reports older than Trivy 0.20 are a bare list of results and are read too.
Grype (`grype -o json`): `matches[]` of `vulnerability` {id, severity, fix {versions, state}}
and `artifact` {name, version, type, upstreams}. Severities become the portal's scale, package
types its vocabulary (deb, apk, pypi, maven, npm, ...), so pages and exports read them as usual.
reports_store.py writes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compliance.vulndb.severity import Severity

TOOLS = ("trivy", "grype")

# Trivy's Result.Type and Grype's artifact.type -> the SbomPackage types the portal uses.
_TRIVY_TYPES = {
    "debian": "deb", "ubuntu": "deb", "alpine": "apk", "wolfi": "apk", "chainguard": "apk",
    "redhat": "rpm", "centos": "rpm", "rocky": "rpm", "alma": "rpm", "amazon": "rpm", "oracle": "rpm",
    "fedora": "rpm", "photon": "rpm", "suse linux enterprise server": "rpm", "opensuse.leap": "rpm",
    "cbl-mariner": "rpm", "azurelinux": "rpm",
    "python-pkg": "pypi", "pip": "pypi", "pipenv": "pypi", "poetry": "pypi", "uv": "pypi",
    "jar": "maven", "pom": "maven", "gradle": "maven", "sbt": "maven",
    "node-pkg": "npm", "npm": "npm", "yarn": "npm", "pnpm": "npm", "bun": "npm",
    "gobinary": "golang", "gomod": "golang", "gemspec": "gem", "bundler": "gem",
    "cargo": "cargo", "rustbinary": "cargo", "composer": "composer", "nuget": "nuget", "dotnet-core": "nuget",
}
_GRYPE_TYPES = {
    "deb": "deb", "apk": "apk", "rpm": "rpm", "python": "pypi", "java-archive": "maven", "jenkins-plugin": "maven",
    "npm": "npm", "go-module": "golang", "gem": "gem", "rust-crate": "cargo", "php-composer": "composer",
    "dotnet": "nuget", "binary": "binary",
}
_SEVERITY_WORDS = {"MODERATE": "MEDIUM", "IMPORTANT": "HIGH"}


class ReportError(ValueError):
    """The report cannot be read; the message says where and why."""


@dataclass(frozen=True, kw_only=True)
class ExternalFinding:
    vulnerability_id: str
    package_name: str
    installed_version: str
    fixed_version: str  # "" when the tool knows no fix
    severity: str  # the portal's scale: Critical, High, Medium, Low, Negligible, Unknown
    package_type: str
    source: str  # "trivy" or "grype"
    source_package: str = ""
    severity_source: str = ""  # the tool's own word for where its grade came from, if any
    aliases: tuple[str, ...] = ()
    title: str = ""
    description: str = ""
    urls: tuple[str, ...] = ()
    cvss_vectors: tuple[str, ...] = ()
    cwe_ids: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        """A minimal OSV-shaped record for the Advisory row this finding points at."""
        return {
            "id": self.vulnerability_id, "summary": self.title, "details": self.description,
            "aliases": list(self.aliases),
            "references": [{"type": "WEB", "url": url} for url in self.urls],
            "severity": [{"type": "CVSS_V3" if v.startswith("CVSS:3") else "CVSS_V2", "score": v}
                         for v in self.cvss_vectors],
            "database_specific": {"severity": self.severity, "tool": self.source, "cwe_ids": list(self.cwe_ids)},
        }


def normalise_severity(value: Any) -> str:
    word = str(value or "").strip().upper()
    word = _SEVERITY_WORDS.get(word, word)
    return Severity[word].label if word in Severity.__members__ else Severity.UNKNOWN.label


def parse_report(tool: str, data: Any) -> list[ExternalFinding]:
    if tool == "trivy":
        return parse_trivy_report(data)
    if tool == "grype":
        return parse_grype_report(data)
    raise ReportError(f"Unknown tool {tool!r}: one of {', '.join(TOOLS)}.")


def parse_trivy_report(data: Any) -> list[ExternalFinding]:
    if isinstance(data, list):  # before Trivy 0.20 the report was the list of results
        results = data
    elif isinstance(data, dict) and ({"SchemaVersion", "ArtifactName", "Results"} & data.keys()):
        results = data.get("Results") or []
    else:
        raise ReportError("Not a Trivy JSON report: expected an object with SchemaVersion and Results "
                          "(trivy image -f json).")
    if not isinstance(results, list):
        raise ReportError("Results must be a list.")
    found = []
    for r, result in enumerate(results):
        where = f"Results[{r}]"
        if not isinstance(result, dict):
            raise ReportError(f"{where} must be an object.")
        vulnerabilities = result.get("Vulnerabilities") or []
        if not isinstance(vulnerabilities, list):
            raise ReportError(f"{where}.Vulnerabilities must be a list.")
        kind = _text(result, "Type", where)
        package_type = _TRIVY_TYPES.get(kind.lower(), kind.lower()[:20] or "unknown")
        sources = _trivy_source_names(result.get("Packages"))
        for v, item in enumerate(vulnerabilities):
            spot = f"{where}.Vulnerabilities[{v}]"
            if not isinstance(item, dict):
                raise ReportError(f"{spot} must be an object.")
            name, version = _text(item, "PkgName", spot, required=True), _text(item, "InstalledVersion", spot)
            found.append(ExternalFinding(
                vulnerability_id=_text(item, "VulnerabilityID", spot, required=True)[:120],
                package_name=name, installed_version=version, fixed_version=_text(item, "FixedVersion", spot),
                severity=normalise_severity(item.get("Severity")), package_type=package_type, source="trivy",
                source_package=sources.get((name, version), ""),
                severity_source=_text(item, "SeveritySource", spot),
                title=_text(item, "Title", spot), description=_text(item, "Description", spot),
                urls=_urls([item.get("PrimaryURL"), *(_list(item.get("References")))]),
                cvss_vectors=_trivy_vectors(item.get("CVSS")),
                cwe_ids=tuple(c for c in _list(item.get("CweIDs")) if isinstance(c, str)),
            ))
    return _unique(found)


def parse_grype_report(data: Any) -> list[ExternalFinding]:
    if not isinstance(data, dict) or not isinstance(data.get("matches"), list):
        raise ReportError("Not a Grype JSON report: expected an object with a matches list (grype -o json).")
    found = []
    for m, match in enumerate(data["matches"]):
        spot = f"matches[{m}]"
        if not isinstance(match, dict) or not isinstance(match.get("vulnerability"), dict) \
                or not isinstance(match.get("artifact"), dict):
            raise ReportError(f"{spot} must be an object with vulnerability and artifact objects.")
        vulnerability, artifact = match["vulnerability"], match["artifact"]
        related = [r for r in _list(match.get("relatedVulnerabilities")) if isinstance(r, dict)]
        vulnerability_id = _text(vulnerability, "id", f"{spot}.vulnerability", required=True)[:120]
        fix = vulnerability.get("fix") if isinstance(vulnerability.get("fix"), dict) else {}
        fixed = ", ".join(v for v in _list(fix.get("versions")) if isinstance(v, str)) if fix.get("state") == "fixed" else ""
        kind = _text(artifact, "type", f"{spot}.artifact")
        upstreams = [u.get("name") for u in _list(artifact.get("upstreams")) if isinstance(u, dict)]
        found.append(ExternalFinding(
            vulnerability_id=vulnerability_id,
            package_name=_text(artifact, "name", f"{spot}.artifact", required=True),
            installed_version=_text(artifact, "version", f"{spot}.artifact"),
            fixed_version=fixed, severity=normalise_severity(vulnerability.get("severity")),
            package_type=_GRYPE_TYPES.get(kind, kind[:20] or "unknown"), source="grype",
            source_package=next((u for u in upstreams if isinstance(u, str)), ""),
            severity_source=_text(vulnerability, "namespace", f"{spot}.vulnerability"),
            aliases=tuple(dict.fromkeys(r["id"] for r in related if isinstance(r.get("id"), str)
                                        and r["id"] != vulnerability_id)),
            description=_text(vulnerability, "description", spot) or next(
                (r["description"] for r in related if isinstance(r.get("description"), str)), ""),
            urls=_urls([vulnerability.get("dataSource"), *_list(vulnerability.get("urls"))]),
            cvss_vectors=_grype_vectors([vulnerability, *related]),
        ))
    return _unique(found)


def report_digests(tool: str, data: Any) -> set[str]:
    """Manifest digests the report says it scanned ({} when it names none: a tarball, say)."""
    if not isinstance(data, dict):
        return set()
    if tool == "trivy":
        metadata = data.get("Metadata") if isinstance(data.get("Metadata"), dict) else {}
        references = _list(metadata.get("RepoDigests"))
    else:
        source = data.get("source") if isinstance(data.get("source"), dict) else {}
        target = source.get("target") if isinstance(source.get("target"), dict) else {}
        references = [target.get("manifestDigest"), *_list(target.get("repoDigests"))]
    return {r.rsplit("@", 1)[-1] for r in references if isinstance(r, str) and "sha256:" in r}


def report_os(tool: str, data: Any) -> tuple[str, str]:
    """(os-release ID, VERSION_ID) as the report names them, or ("", "")."""
    if not isinstance(data, dict):
        return "", ""
    if tool == "trivy":
        metadata = data.get("Metadata") if isinstance(data.get("Metadata"), dict) else {}
        found = metadata.get("OS") if isinstance(metadata.get("OS"), dict) else {}
        name, version = found.get("Family"), found.get("Name")
    else:
        found = data.get("distro") if isinstance(data.get("distro"), dict) else {}
        name, version = found.get("name"), found.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        return "", ""
    return name.lower()[:40], version[:40]


def _text(data: dict, key: str, where: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise ReportError(f"{where}.{key} is missing.")
        return ""
    if not isinstance(value, str):
        raise ReportError(f"{where}.{key} must be a string, not {type(value).__name__}.")
    return value.strip()


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _urls(values: list) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if isinstance(v, str) and v.startswith(("https://", "http://"))))[:20]


def _trivy_source_names(packages: Any) -> dict[tuple[str, str], str]:
    # Present with --list-all-pkgs: binary (name, version) -> the source package advisories name.
    return {(p["Name"], p.get("Version", "")): p["SrcName"] for p in _list(packages)
            if isinstance(p, dict) and isinstance(p.get("Name"), str) and isinstance(p.get("SrcName"), str)}


def _trivy_vectors(cvss: Any) -> tuple[str, ...]:
    # {"nvd": {"V3Vector": ..., "V2Vector": ...}, "redhat": {...}}: NVD's first, then the others.
    vendors = sorted(cvss.items(), key=lambda kv: kv[0] != "nvd") if isinstance(cvss, dict) else []
    vectors = [entry.get(key) for _, entry in vendors if isinstance(entry, dict) for key in ("V3Vector", "V2Vector")]
    return tuple(dict.fromkeys(v for v in vectors if isinstance(v, str) and v))


def _grype_vectors(records: list[dict]) -> tuple[str, ...]:
    vectors = [c.get("vector") for r in records for c in _list(r.get("cvss")) if isinstance(c, dict)]
    return tuple(dict.fromkeys(v for v in vectors if isinstance(v, str) and v))


def _unique(found: list[ExternalFinding]) -> list[ExternalFinding]:
    """One finding per (vulnerability, package, version): a report may list a pair twice
    (two targets, two matchers); the worst grade is kept."""
    kept: dict[tuple[str, str, str, str], ExternalFinding] = {}
    for finding in found:
        key = (finding.vulnerability_id, finding.package_type, finding.package_name, finding.installed_version)
        if key not in kept or Severity[finding.severity.upper()] > Severity[kept[key].severity.upper()]:
            kept[key] = finding
    return list(kept.values())
