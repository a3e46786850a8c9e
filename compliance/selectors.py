"""Reads for the compliance pages and exports; one query layer so pages, CSV and counts agree."""
from django.db.models import Case, Count, IntegerField, Q, Value, When

from compliance.models import Finding
from compliance.policy_vulns import SEVERITY_ORDER

SEVERITY_RANK = Case(*[When(severity=s, then=Value(i)) for i, s in enumerate(SEVERITY_ORDER)],
                     default=Value(len(SEVERITY_ORDER)), output_field=IntegerField())


def findings_filter(scan, *, severities=(), fixable=False, q="", origin="", base_layers=0):
    """The scan's findings under the report's filters, worst first, fixable before unfixed."""
    findings = Finding.objects.filter(scan=scan).select_related("package", "advisory")
    if severities:
        findings = findings.filter(severity__in=severities)
    if fixable:
        findings = findings.exclude(fixed_version="")
    if q:
        findings = findings.filter(Q(vulnerability_id__icontains=q) | Q(package__name__icontains=q)
                                   | Q(package__source_name__icontains=q) | Q(advisory__osv_id__icontains=q))
    if origin == "base":
        findings = findings.filter(package__layer_index__lt=base_layers)
    elif origin == "added":
        findings = findings.filter(package__layer_index__gte=base_layers)
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
    from django.db.models import Max

    from builds.models import Build

    latest = (Build.objects.filter(team__in=teams, status=Build.Status.SUCCEEDED)
              .values("recipe").annotate(latest=Max("pk")).values("latest"))
    return Build.objects.filter(pk__in=latest)


def vulnerability_findings(vulnerability_id: str, teams):
    """Findings of one vulnerability (by CVE, advisory id or alias) on current images."""
    return (Finding.objects.filter(scan__build__in=current_builds(teams))
            .filter(Q(vulnerability_id=vulnerability_id) | Q(advisory__osv_id=vulnerability_id)
                    | Q(advisory__aliases__icontains=f'"{vulnerability_id}"'))  # JSON text: works on SQLite too
            .select_related("package", "advisory", "scan__build__team", "scan__build__recipe__base")
            .order_by("scan__build__team__slug", "scan__build__recipe__name"))


def fleet_summary(teams) -> dict:
    """Severity totals over current images, the most widespread vulnerabilities, per-team rows."""
    builds = current_builds(teams)
    findings = Finding.objects.filter(scan__build__in=builds)
    scanned = builds.filter(scan__status="done").count()
    top = (findings.values("vulnerability_id", "severity").annotate(images=Count("scan", distinct=True),
                                                                    fixable=Count("id", filter=~Q(fixed_version="")))
           .order_by("-images", "vulnerability_id")[:10])
    per_team = (findings.values("scan__build__team__slug", "severity").annotate(n=Count("id")))
    teams_rows = {}
    for row in per_team:
        teams_rows.setdefault(row["scan__build__team__slug"], dict.fromkeys(SEVERITY_ORDER, 0))[row["severity"]] = row["n"]
    return {
        "images": builds.count(), "scanned": scanned, "counts": severity_counts(findings),
        "fixable_critical_high": findings.filter(severity__in=["Critical", "High"]).exclude(fixed_version="").count(),
        "failing": _failing_count(builds),
        "top": list(top),
        "teams": sorted(teams_rows.items(), key=lambda item: (-item[1]["Critical"], -item[1]["High"], item[0])),
    }


def _failing_count(builds) -> int:
    """Images whose LATEST verdict fails (an old failing verdict later fixed does not count)."""
    from django.db.models import OuterRef, Subquery

    from compliance.models import Verdict

    latest = Verdict.objects.filter(build=OuterRef("pk")).order_by("-created").values("passed")[:1]
    return builds.annotate(latest_passed=Subquery(latest)).filter(latest_passed=False).count()
