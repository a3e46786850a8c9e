"""Reads of exceptions for the pages and the API, with who may see what."""
import datetime

from django.db.models import Count, Q

from compliance.exceptions.services import builds_in_scope
from compliance.models import Finding, PolicyException
from compliance.vulndb.severity import SEVERITY_ORDER
from portal.rbac import is_security_reviewer, visible_teams

IMPACT_ROWS = 50
# The register's tabs, the reviewers' queue ("pending") first.
TABS = ["pending", "active", "expiring", "expired", "denied", "revoked"]
EXPIRING_WITHIN = datetime.timedelta(days=14)


def exceptions_visible_to(user):
    """Reviewers see all; others see their teams' and the global ones."""
    if is_security_reviewer(user):
        return PolicyException.objects.all()
    return PolicyException.objects.filter(Q(team__in=visible_teams(user)) | Q(scope=PolicyException.Scope.GLOBAL))


def exceptions_of_team(exceptions, team: str):
    """Those of one team (by slug; all when ""): the team's own, not the global ones, which no
    team owns (they show under every team's "all teams" view)."""
    return exceptions.filter(team__slug=team) if team else exceptions


def exception_tab_q(tab: str, now) -> Q:
    """Which exceptions a tab of the register lists; the security overview counts its tiles and
    its CSV with the same conditions, so its numbers are the lengths of those tabs."""
    active = Q(status=PolicyException.Status.APPROVED, expires_at__gt=now)
    if tab == "active":
        return active
    if tab == "expiring":
        return active & Q(expires_at__lte=now + EXPIRING_WITHIN)
    if tab == "pending":
        return Q(status__in=PolicyException.AWAITING_REVIEW)
    return Q(status=tab)


def exception_counts_by_team(exceptions, now, tabs=("pending", "expiring", "active")) -> dict[str | None, dict]:
    """{team slug (None: the global ones): {tab: how many that tab lists}} in one grouped query."""
    counts = {tab: Count("pk", filter=exception_tab_q(tab, now)) for tab in tabs}
    return {row.pop("team__slug"): row for row in exceptions.order_by().values("team__slug").annotate(**counts)}


def exception_impact(exception: PolicyException, user) -> dict:
    """What a reviewer weighs: the findings the exception would cover on the current images of its
    scope (those the user may see), their worst severity, whether a fix exists, how many images."""
    if exception.target_kind == PolicyException.Target.RULE:
        return {}
    field = "vulnerability_id" if exception.target_kind == PolicyException.Target.VULNERABILITY else "package__name"
    findings = (Finding.objects.filter(scan__build__in=builds_in_scope(exception), **{field: exception.target})
                .filter(scan__build__team__in=visible_teams(user))
                .select_related("package", "scan__build__recipe", "scan__build__team").order_by("scan__build__team__slug"))
    rows = list(findings[:IMPACT_ROWS])
    severities = set(findings.values_list("severity", flat=True))
    return {"rows": rows, "total": findings.count(), "images": findings.values("scan__build").distinct().count(),
            "worst": next((s for s in SEVERITY_ORDER if s in severities), ""),
            "fixable": findings.exclude(fixed_version="").count()}
