"""A verdict is current when it was computed under today's rules and today's vulnerability data;
the gate, base approval and attestation make it so before they rely on it."""
from django.utils import timezone

from builds.models import Build
from compliance.models import ImageScan, PolicyException, Verdict
from compliance.policy.evaluation import data_max_age_days, verdict_evaluate
from compliance.policy.ruleset import ruleset_for
from compliance.vulndb.coverage import scan_coverage
from compliance.vulndb.matching import scan_match
from compliance.vulndb.store import database_version


def verdict_staleness(build: Build, latest: Verdict | None = None) -> list[str]:
    """Why the build's latest verdict no longer says what an evaluation would say today, as
    sentences for its page ("stale: ..."; empty: it is current). Each event that changes these
    inputs re-evaluates on its own; this tells the page when one has not happened yet (a queued
    re-evaluation, a broker outage, the exception expiry job not yet run)."""
    latest = latest or build.verdicts.order_by("-created", "-pk").first()
    scan = ImageScan.objects.filter(build=build, status=ImageScan.Status.DONE).first()
    if latest is None or scan is None:
        return []
    reasons, ruleset = [], ruleset_for(build.team)
    if latest.policy_version != Verdict.POLICY_VERSION:
        reasons.append(f"the portal's policy checks changed (version {latest.policy_version} → {Verdict.POLICY_VERSION})")
    elif latest.ruleset_version != ruleset.version:
        reasons.append("the team's policy rules changed since")
    coverage = scan_coverage(scan, max_age_days=data_max_age_days(ruleset)).reason
    if coverage != latest.not_assessed:
        reasons.append(f"the vulnerability data changed: {coverage}" if coverage
                       else "current vulnerability data arrived for its packages")
    leaned_on = _exceptions_used(latest)
    if leaned_on:
        lapsed = PolicyException.objects.filter(pk__in=leaned_on).exclude(
            status=PolicyException.Status.APPROVED, expires_at__gt=timezone.now()).values_list("pk", flat=True)
        reasons += [f"exception {pk} it relied on no longer applies" for pk in sorted(lapsed)]
    return reasons


def _exceptions_used(verdict: Verdict) -> set[int]:
    used = set()
    for result in verdict.waived:
        evidence = result.get("evidence") or {}
        used.update(pk for pk in [evidence.get("exception"), *(evidence.get("exceptions") or [])] if pk)
    return used


def verdict_make_current(build: Build) -> None:
    """A verdict computed before the latest database import, under another policy version or
    under a rule set that is no longer the team's, or one that passed thanks to an exception, or
    whose vulnerability data has aged (or arrived) since, is stale: evaluate again, from the
    stored SBOM, before anything is published on it (matching again only when the database moved).
    Stricter than `verdict_staleness`: any import, any waiver, is a reason to look again."""
    latest = build.verdicts.order_by("-created").first()
    scan = ImageScan.objects.filter(build=build, status=ImageScan.Status.DONE).first()
    if latest is None or scan is None:
        return
    database_moved = latest.database_version != database_version()
    # A waiver may have expired since (the periodic expiry runs every few minutes, and an expired
    # exception must stop applying at once): a verdict that leans on one is checked again.
    leans_on_waiver = any(r.get("status") == "waived" for r in latest.results)
    if not (database_moved or leans_on_waiver or verdict_staleness(build, latest)):
        return
    if database_moved:
        scan_match(scan)
    verdict_evaluate(build=build, trigger="gate")
