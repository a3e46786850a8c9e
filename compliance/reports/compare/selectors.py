"""What the scanner comparison reads, in a fixed handful of queries however many findings there are:
the scan's findings (one query), the names of the packages our scan read (one), our advisories
naming the other tool's unpaired vulnerability ids and their entries (two), the active exceptions
(one). Pairing and reasons are computed in pairing.py from what is loaded here."""
from django.db.models import Q

from builds.models import Build
from compliance.exceptions.applying import exceptions_active_for
from compliance.models import Advisory, AffectedPackage, Finding, ImageScan
from compliance.policy.evaluation import waivers_among
from compliance.reports.compare.pairing import (
    AdvisoryEntry,
    Comparison,
    Evidence,
    FindingFacts,
    OurAdvisory,
    findings_compare,
    pair_counts,
    row_layer,
    unpaired_ids,
)
from compliance.reports.parse import TOOLS
from compliance.selectors import finding_origin_labels
from compliance.vulndb.matching import CHUNK, coordinates

__all__ = ["NoComparison", "comparison_counts", "report_comparison", "tools_imported"]


class NoComparison(Exception):
    """There is nothing to compare: the message says why (no scan, no report of that tool, no scan of ours)."""


_FIELDS = ("id", "vulnerability_id", "installed_version", "fixed_version", "severity", "advisory__source",
           "advisory__osv_id", "advisory__aliases", "package__type", "package__name", "package__version",
           "package__source_name", "package__source_version", "package__layer_index")


def tools_imported(scan: ImageScan | None) -> list[str]:
    """The tools whose reports are stored on the scan, in TOOLS order."""
    if scan is None:
        return []
    found = set(Finding.objects.filter(scan=scan, advisory__source__in=TOOLS).order_by()
                .values_list("advisory__source", flat=True).distinct())
    return [tool for tool in TOOLS if tool in found]


def _done_scan(build: Build) -> ImageScan:
    scan = ImageScan.objects.filter(build=build).only("id", "status", "os_id", "os_version").first()
    if scan is None or scan.status != ImageScan.Status.DONE:
        raise NoComparison("The image has no finished scan to compare.")
    return scan


def _sbom(scan: ImageScan) -> tuple[dict[tuple, set[str]], dict[str, str]]:
    """Our scan's packages: the versions read under each name key, and the source package of each binary name."""
    versions, sources = {}, {}
    for type_, name, version, source_name in (scan.packages.filter(layer_index__isnull=False).order_by()
                                              .values_list("type", "name", "version", "source_name").distinct()):
        key = FindingFacts(id=0, vulnerability_id="", advisory_id="", type=type_, name=name, version="", severity="").name_key
        versions.setdefault(key, set()).add(version)
        if source_name:
            sources.setdefault(name, source_name)
    return versions, sources


def _facts(scan: ImageScan, row: dict, sources: dict[str, str], excepted: str) -> FindingFacts:
    source_name = row["package__source_name"] or sources.get(row["package__name"], "")
    found = coordinates(os_id=scan.os_id, os_version=scan.os_version, type=row["package__type"], name=row["package__name"],
                        version=row["package__version"], source_name=source_name,
                        source_version=row["package__source_version"])
    return FindingFacts(
        id=row["id"], vulnerability_id=row["vulnerability_id"], advisory_id=row["advisory__osv_id"],
        aliases=tuple(a for a in (row["advisory__aliases"] or ()) if isinstance(a, str)), type=row["package__type"],
        name=row["package__name"], source_name=source_name, version=row["installed_version"],
        package_version=row["package__version"], severity=row["severity"], fixed_version=row["fixed_version"],
        layer_index=row["package__layer_index"], coordinates=found, excepted=excepted)


def _sides(build: Build, scan: ImageScan, tool: str, *, with_exceptions: bool):
    rows = list(Finding.objects.filter(scan=scan).order_by("id").values(*_FIELDS))
    sbom_versions, sources = _sbom(scan)
    excepted = _excepted(build, rows) if with_exceptions else {}
    ours, theirs = [], []
    for row in rows:
        source = row["advisory__source"]
        if source == tool:
            theirs.append(_facts(scan, row, sources, excepted.get(row["id"], "")))
        elif source not in TOOLS:
            ours.append(_facts(scan, row, sources, excepted.get(row["id"], "")))
    if not theirs:
        raise NoComparison(f"No {tool.capitalize()} report has been imported for this image.")
    if not sbom_versions and not ours:
        raise NoComparison("The portal has not read this image's packages itself (its scan came from the report), "
                           "so there is nothing of ours to compare.")
    return ours, theirs, sbom_versions


def _excepted(build: Build, rows: list[dict]) -> dict[int, str]:
    """Finding id -> the exception covering it, decided as the verdict decides (waivers_among), without
    ending any exception: an exception on a vulnerability id, or on every vulnerability of a package."""
    findings = [{"vulnerability_id": r["vulnerability_id"], "fixed_version": r["fixed_version"],
                 "package": r["package__name"]} for r in rows]
    waivers, _ = waivers_among(exceptions_active_for(build), findings)
    covered = {}
    for row in rows:
        exception = waivers.vulnerabilities.get(row["vulnerability_id"]) or waivers.packages.get(row["package__name"])
        if exception is not None:
            covered[row["id"]] = f"exception {exception.pk} until {exception.expires_at:%Y-%m-%d}"
    return covered


def _advisories(ids: set[str]) -> tuple[OurAdvisory, ...]:
    """Our sources' advisories (never the tools' own rows) whose id or aliases name one of `ids`."""
    wanted = sorted(ids | {i.upper() for i in ids})
    found = {}
    for i in range(0, len(wanted), CHUNK):
        chunk = wanted[i:i + CHUNK]
        for pk, osv_id, aliases, withdrawn in (Advisory.objects.exclude(source__in=TOOLS)
                                               .filter(Q(osv_id__in=chunk) | Q(aliases__has_any_keys=chunk))
                                               .values_list("pk", "osv_id", "aliases", "withdrawn")):
            found[pk] = (osv_id, tuple(a for a in aliases or () if isinstance(a, str)), withdrawn)
    entries = {pk: [] for pk in found}
    ordered = sorted(found)
    for i in range(0, len(ordered), CHUNK):
        for pk, ecosystem, name, ranges, versions in (AffectedPackage.objects.filter(advisory_id__in=ordered[i:i + CHUNK])
                                                      .values_list("advisory_id", "ecosystem", "name", "ranges", "versions")):
            entries[pk].append(AdvisoryEntry(ecosystem=ecosystem, name=name, ranges=ranges or [], versions=versions or []))
    return tuple(OurAdvisory(osv_id=osv_id, aliases=aliases, withdrawn=withdrawn, entries=tuple(entries[pk]))
                 for pk, (osv_id, aliases, withdrawn) in sorted(found.items()))


def report_comparison(*, build: Build, tool: str) -> Comparison:
    """Our findings on the build's image beside `tool`'s imported ones, every row with its reason.
    Raises NoComparison when there is nothing to compare."""
    if tool not in TOOLS:
        raise ValueError(f"tool must be one of {TOOLS}")
    scan = _done_scan(build)
    ours, theirs, sbom_versions = _sides(build, scan, tool, with_exceptions=True)
    missing = unpaired_ids(ours, theirs)
    evidence = Evidence(sbom_names=frozenset(sbom_versions), sbom_versions=sbom_versions,
                        advisories=_advisories(missing) if missing else ())
    return findings_compare(tool=tool, ours=ours, theirs=theirs, evidence=evidence)


def comparison_counts(*, build: Build, scan: ImageScan | None) -> dict[str, dict[str, int]]:
    """{tool: group counts} for each tool with a report on the image, for the image report's summary
    (no reasons: one query when no report was imported, three when one was)."""
    counts = {}
    tools = tools_imported(scan) if scan is not None and scan.status == ImageScan.Status.DONE else []
    for tool in tools:
        try:
            ours, theirs, _ = _sides(build, scan, tool, with_exceptions=False)
        except NoComparison:
            continue
        counts[tool] = pair_counts(ours, theirs)
    return counts


REPORT_ONLY = "not in our SBOM"


def origin_labeller(build):
    """row -> what added its package, named as the image report names it ("option wget 1",
    "Dockerfile line 7: RUN ...", "base Debian 12"), or "not in our SBOM"."""
    scan = ImageScan.objects.filter(build=build).first()
    labels = finding_origin_labels(build, scan, base_layers=len(build.recipe.base.layer_digests)) if scan else None

    def label(row) -> str:
        layer = row_layer(row)
        return REPORT_ONLY if layer is None or labels is None else labels.of(layer).label
    return label
