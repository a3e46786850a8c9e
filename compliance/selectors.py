"""Reads for the compliance pages and exports; one query layer so pages, CSV and counts agree."""
import hashlib

from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Subquery, Sum, Value, When

from builds.models import Build
from builds.selectors import latest_of_each_recipe
from compliance.exceptions.applying import exceptions_active_for
from compliance.models import Finding, PolicyException, PolicyReevaluationDue, ReevaluationDue, ScanSeverityCount, Verdict
from compliance.policy.currency import verdict_staleness
from compliance.policy.evaluation import build_layer_origins, waivers_among
from compliance.policy.origin_labels import KINDS, Component, OriginLabels
from compliance.vulndb.ids import vulnerability_id_spellings
from compliance.vulndb.lookup import advisories_named
from compliance.vulndb.severity import SEVERITY_ORDER
from portal.models import AuditEvent

SEVERITY_RANK = Case(*[When(severity=s, then=Value(i)) for i, s in enumerate(SEVERITY_ORDER)],
                     default=Value(len(SEVERITY_ORDER)), output_field=IntegerField())


class FindingExceptions:
    """The build's active exceptions that cover single findings (by vulnerability or by package),
    decided as the verdict decides (`waivers_among`, without ending any): an exception that ends
    when fixed covers nothing once any finding of its target on the image has a fix."""

    def __init__(self, build):
        fixable = [{"vulnerability_id": v, "package": p, "fixed_version": f} for v, p, f in Finding.objects.filter(
            scan__build=build).exclude(fixed_version="").values_list("vulnerability_id", "package__name", "fixed_version")]
        waivers, _ = waivers_among(exceptions_active_for(build), fixable)
        self.by_vulnerability, self.by_package = waivers.vulnerabilities, waivers.packages

    def covering(self, finding) -> PolicyException | None:
        return self.by_vulnerability.get(finding.vulnerability_id) or self.by_package.get(finding.package.name)

    def as_q(self) -> Q:
        """The findings an exception covers, as a filter (matches nothing when none does)."""
        return Q(vulnerability_id__in=list(self.by_vulnerability)) | Q(package__name__in=list(self.by_package))


def finding_origin_labels(build, scan, *, base_layers: int) -> OriginLabels:
    """What added each layer of the build's image, named ("option wget 1"): built once per page or
    export from rows already loaded (the build, its recipe's base, the scan's facts), no query."""
    components = {c["slug"]: Component(c.get("kind", ""), c.get("name") or c["slug"], c.get("version", ""))
                  for c in (build.snapshot or {}).get("components") or [] if c.get("slug")}
    origins = build_layer_origins(build, (scan.facts or {}).get("config") or {}, base_layers)
    return OriginLabels(origins, base_name=build.recipe.base.name, components=components)


# ?origin= values: a kind of OriginLabels, or "added" (anything above the base: links made before the kinds)
ORIGIN_FILTERS = {"base": KINDS["base"], "added": "Added on top of the base (any step)", **KINDS}


def _origin_q(origin: str, base_layers: int, labels: OriginLabels | None) -> Q:
    if origin == "base":
        return Q(package__layer_index__lt=base_layers)
    if origin == "added":
        return Q(package__layer_index__gte=base_layers)
    layers = labels.layers_by_kind() if labels is not None else {}
    if origin == "unknown":
        named = [layer for kind, found in layers.items() if kind != "unknown" for layer in found]
        return Q(package__layer_index__isnull=True) | ~Q(package__layer_index__in=named)
    return Q(package__layer_index__in=layers.get(origin, []))


def findings_filter(scan, *, severities=(), fixable=False, q="", package="", origin="", base_layers=0, excepted="",
                    exceptions: FindingExceptions | None = None, labels: OriginLabels | None = None):
    """The scan's findings under the report's filters, worst first, fixable before unfixed;
    `q` is a part of a package's or a vulnerability's name, `package` a package's whole name;
    `excepted` "hide" leaves out, "only" keeps only, the findings `exceptions` cover; `origin` is
    a key of ORIGIN_FILTERS, the kinds read from `labels`."""
    findings = Finding.objects.filter(scan=scan).select_related("package", "advisory")
    if severities:
        findings = findings.filter(severity__in=severities)
    if fixable:
        findings = findings.exclude(fixed_version="")
    if package:
        findings = findings.filter(package__name=package)
    if q:
        findings = findings.filter(Q(vulnerability_id__icontains=q) | Q(package__name__icontains=q)
                                   | Q(package__source_name__icontains=q) | Q(advisory__osv_id__icontains=q))
    if origin in ORIGIN_FILTERS:
        findings = findings.filter(_origin_q(origin, base_layers, labels))
    if excepted and exceptions is not None:
        findings = findings.exclude(exceptions.as_q()) if excepted == "hide" else findings.filter(exceptions.as_q())
    fixable_first = Case(When(fixed_version="", then=Value(1)), default=Value(0), output_field=IntegerField())
    return findings.annotate(rank=SEVERITY_RANK, unfixed=fixable_first).order_by("rank", "unfixed", "vulnerability_id", "package__name")


def severity_counts(findings) -> dict[str, dict[str, int]]:
    """{severity: {"total": n, "fixable": m}} in severity order, for the summary strip."""
    rows = findings.order_by().values("severity").annotate(total=Count("id"), fixable=Count("id", filter=~Q(fixed_version="")))
    by_severity = {row["severity"]: row for row in rows}
    return {s: {"total": by_severity.get(s, {}).get("total", 0), "fixable": by_severity.get(s, {}).get("fixable", 0)}
            for s in SEVERITY_ORDER}


def current_builds(teams):
    """The latest successful build of each recipe of these teams: what 'current images' means."""
    return latest_of_each_recipe(Build.objects.filter(team__in=teams, status=Build.Status.SUCCEEDED))


# What the impact page never shows, and costs most to load on every row: image facts, the
# composition and Dockerfiles of a build, the whole advisory record.
IMPACT_DEFERRED = ("scan__facts", "scan__build__snapshot", "scan__build__dockerfile", "scan__build__script_stage",
                   "scan__build__context_files", "advisory__record")


def vulnerability_findings(vulnerability_id: str, teams):
    """Findings of one vulnerability (by CVE, advisory id or alias, in any of the id's spellings:
    `advisories_named`) on current images.

    The advisories are looked up first, in a query of their own: with an OR across the joined
    advisory table, or against a subquery, PostgreSQL read every finding of the fleet (it could
    not use an index, and guessed a fifth of the table would match); two indexed lists it can."""
    advisories = list(advisories_named(vulnerability_id, teams=teams).values_list("pk", flat=True)[:100])
    return (Finding.objects.filter(scan__build__in=current_builds(teams))
            .filter(Q(vulnerability_id__in=vulnerability_id_spellings(vulnerability_id)) | Q(advisory_id__in=advisories))
            .select_related("package", "advisory", "scan__build__team", "scan__build__recipe__base")
            .defer(*IMPACT_DEFERRED)
            .order_by("scan__build__team__slug", "scan__build__recipe__name", "scan__build_id", "pk"))


def vulnerability_impact_counts(findings) -> dict:
    """The impact page's totals over `vulnerability_findings`, counted by the database: images,
    teams (names, sorted), images per base image and images with a fix."""
    findings = findings.order_by()
    image_count, fixable_images = findings.aggregate(
        images=Count("scan__build", distinct=True),
        fixable=Count("scan__build", distinct=True, filter=~Q(fixed_version=""))).values()
    teams = sorted(findings.values_list("scan__build__team__name", flat=True).distinct())
    by_base = findings.values_list("scan__build__recipe__base__name").annotate(n=Count("scan__build", distinct=True))
    return {"image_count": image_count, "fixable_images": fixable_images, "teams": teams, "by_base": sorted(by_base)}


# What an image's latest verdict says, for the images list's filter and the dashboard's tiles.
IMAGE_STATES = {"failing": "Failing policy", "not-assessed": "Not assessed", "passing": "Passing", "unevaluated": "Not evaluated"}
# Each state as a condition on `current_images`' annotations: its filter, and the overview's CSV counts.
IMAGE_STATE_FILTERS = {
    "failing": Q(verdict_passed=False),
    "not-assessed": Q(verdict_not_assessed__isnull=False) & ~Q(verdict_not_assessed=""),
    "passing": Q(verdict_passed=True),
    "unevaluated": Q(verdict_passed__isnull=True),
}


def current_images(teams, *, team: str = "", state: str = "", severities=(), fixable: bool = False):
    """The current images of these teams (of one team by slug), each with its latest verdict as
    `verdict_passed`, `verdict_not_assessed` and `verdict_at`; filtered by that verdict's state and
    by having a finding of one of `severities` (fixable ones only with `fixable`). The dashboard's
    totals and the images list (page, CSV) count from this one query, so they cannot disagree."""
    builds = current_builds(teams)
    if team:
        builds = builds.filter(team__slug=team)
    latest = Verdict.objects.filter(build=OuterRef("pk")).order_by("-created", "-pk")
    builds = builds.annotate(verdict_passed=Subquery(latest.values("passed")[:1]),
                             verdict_not_assessed=Subquery(latest.values("not_assessed")[:1]),
                             verdict_at=Subquery(latest.values("created")[:1]))
    if state in IMAGE_STATE_FILTERS:
        builds = builds.filter(IMAGE_STATE_FILTERS[state])
    if severities or fixable:  # from the scans' maintained counts: a count row exists only while it is above zero
        matching = ScanSeverityCount.objects.filter(scan__build=OuterRef("pk"))
        if severities:
            matching = matching.filter(severity__in=severities)
        if fixable:
            matching = matching.filter(fixable__gt=0)
        builds = builds.filter(Exists(matching))
    return builds


def image_counts(build_ids) -> dict[int, dict]:
    """Per build, its findings per severity and how many are fixable (its scan's maintained counts)."""
    counts = {pk: {**dict.fromkeys(SEVERITY_ORDER, 0), "fixable": 0} for pk in build_ids}
    rows = ScanSeverityCount.objects.filter(scan__build_id__in=list(counts)).values_list(
        "scan__build_id", "severity", "total", "fixable")
    for build_id, severity, total, fixable in rows:
        counted = counts[build_id]
        counted[severity] = counted.get(severity, 0) + total
        counted["fixable"] += fixable
    return counts


def fleet_figures_by_team(teams) -> dict[str, dict]:
    """Per team (slug; every one of `teams`, none left out for having no image): its current
    images, how many are scanned and in each verdict state (IMAGE_STATE_FILTERS' keys), and its
    findings per severity with the fixable ones, counted as `fleet_summary` and the images list
    count them (`current_images`, the scans' maintained counts): two grouped queries."""
    empty = {"images": 0, "scanned": 0, **dict.fromkeys(IMAGE_STATE_FILTERS, 0)}
    figures = {team.slug: {**empty, "counts": {s: {"total": 0, "fixable": 0} for s in SEVERITY_ORDER}} for team in teams}
    aliases = {state: state.replace("-", "_") for state in IMAGE_STATE_FILTERS}  # an SQL alias has no hyphen
    states = {aliases[state]: Count("pk", filter=condition) for state, condition in IMAGE_STATE_FILTERS.items()}
    for row in (current_images(teams).order_by().values("team__slug")
                .annotate(images=Count("pk"), scanned=Count("pk", filter=Q(scan__status="done")), **states)):
        figures[row["team__slug"]].update(images=row["images"], scanned=row["scanned"],
                                          **{state: row[alias] for state, alias in aliases.items()})
    counted = (ScanSeverityCount.objects.filter(scan__build__in=current_builds(teams)).order_by()
               .values_list("scan__build__team__slug", "severity").annotate(Sum("total"), Sum("fixable")))
    for slug, severity, total, fixable in counted:
        if severity in SEVERITY_ORDER:
            figures[slug]["counts"][severity] = {"total": total, "fixable": fixable}
    return figures


def fleet_summary(teams, *, team: str = "") -> dict:
    """Severity totals over current images (of one team by slug), the most widespread
    vulnerabilities, per-team rows; the image counts come from `current_images`, as the list's.

    The team rows, the severity totals and the fixable counts add up the scans' maintained counts
    (a row per image and severity), not the fleet's findings (a million: this page's main cost
    before). Those rows also fingerprint the findings of the images they count, so the most
    widespread vulnerabilities, which only the findings can tell, are read from them once per
    change of those findings or of which images are current, then reused."""
    builds = current_images(teams, team=team)
    scanned = builds.filter(scan__status="done").count()
    rows = list(ScanSeverityCount.objects.filter(scan__build__in=builds).order_by("scan_id", "severity")
                .values_list("scan_id", "severity", "total", "fixable", "changed", "scan__build__team__slug"))
    teams_rows, counts = {}, {s: {"total": 0, "fixable": 0} for s in SEVERITY_ORDER}
    for _, severity, total, fixable, _, slug in rows:
        counted = teams_rows.setdefault(slug, dict.fromkeys(SEVERITY_ORDER, 0))
        counted[severity] = counted.get(severity, 0) + total
        if severity in counts:
            counts[severity]["total"] += total
            counts[severity]["fixable"] += fixable
    return {
        "images": builds.count(), "scanned": scanned, "counts": counts,
        "fixable_critical_high": counts["Critical"]["fixable"] + counts["High"]["fixable"],
        "failing": current_images(teams, team=team, state="failing").count(),
        "not_assessed": current_images(teams, team=team, state="not-assessed").count(),
        "top": widespread_vulnerabilities(builds, rows),
        "teams": sorted(teams_rows.items(), key=lambda item: (-item[1]["Critical"], -item[1]["High"], item[0])),
    }


OWED_CHANGES = {"policy-change": "a policy change", "base-change": "a change of the approved bases"}


def reevaluations_owed(teams) -> dict | None:
    """What the current verdicts of `teams` are still being re-evaluated for: the imports whose
    changes no re-evaluation has covered yet (ReevaluationDue), and the policy or approved-base
    changes of these teams or of all (PolicyReevaluationDue), with when the oldest was owed.
    None when nothing is owed. Until then the overview's figures may not show those changes."""
    imports = list(ReevaluationDue.objects.values_list("import_run_id", "created"))
    changes = list(PolicyReevaluationDue.objects.filter(Q(team__isnull=True) | Q(team__in=teams))
                   .values_list("trigger", "created"))
    if not imports and not changes:
        return None
    return {"imports": sorted({run for run, _ in imports}),
            "changes": [OWED_CHANGES.get(trigger, trigger) for trigger in sorted({trigger for trigger, _ in changes})],
            "since": min(created for _, created in imports + changes)}


def widespread_vulnerabilities(builds, counted: list[tuple]) -> list[dict]:
    """The ten vulnerabilities on most of these builds' images, with their fixable findings.
    Kept in the cache under a digest of `counted`, the builds' scans' count rows: a statement
    that changes a finding of a scan changes that scan's rows (their numbers or `changed`), and a
    build joining or leaving the current images brings or takes its scan's rows, so a digest
    never names another set of findings than the one the list was read from."""
    fingerprint = hashlib.sha256(repr((connection.settings_dict["NAME"], counted)).encode()).hexdigest()
    key = f"compliance:widespread:{fingerprint}"
    top = cache.get(key)
    if top is None:
        top = list(Finding.objects.filter(scan__build__in=builds).values("vulnerability_id", "severity")
                   .annotate(images=Count("scan", distinct=True), fixable=Count("id", filter=~Q(fixed_version="")))
                   .order_by("-images", "vulnerability_id")[:10])
        cache.set(key, top, timeout=24 * 3600)
    return top


def verdict_standing(build: Build) -> dict:
    """What the build's page says beside its latest verdict: `stale` (why it is not current, with a
    way to re-evaluate), and for a published image that stopped passing, since when
    (`noncompliant_since`, the first verdict of the failing run that goes on today), why, and
    whether its team was alerted (`alert`: the audit record of the alert, None when none was sent)."""
    verdicts = list(build.verdicts.order_by("-created", "-pk").only("pk", "passed", "created", "results")[:50])
    standing = {"stale": verdict_staleness(build, verdicts[0]) if verdicts else [], "noncompliant_since": None,
                "alert": None}
    if not build.published_reference or not verdicts or verdicts[0].passed:
        return standing
    failing = verdicts[0]
    for verdict in verdicts[1:]:
        if verdict.passed:
            break
        failing = verdict
    if build.published_at and failing.created < build.published_at:
        return standing  # published while failing (a warn-only rule set then): nothing turned
    standing["noncompliant_since"] = failing.created
    standing["alert"] = (AuditEvent.objects.filter(action="alert.noncompliant", target_type="Build", target_id=str(build.pk),
                                                   created__gte=failing.created).order_by("created").first())
    return standing
