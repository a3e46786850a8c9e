"""A verdict is current when it was computed under today's rules and today's vulnerability data;
the gate, base approval and attestation make it so before they rely on it."""
from builds.models import Build
from compliance.models import ImageScan, Verdict
from compliance.policy.evaluation import data_max_age_days, verdict_evaluate
from compliance.policy.ruleset import ruleset_for
from compliance.vulndb.coverage import scan_coverage
from compliance.vulndb.matching import scan_match
from compliance.vulndb.store import database_version


def verdict_make_current(build: Build) -> None:
    """A verdict computed before the latest database import, under another policy version or
    under a rule set that is no longer the team's, or one that passed thanks to an exception, or
    whose vulnerability data has aged (or arrived) since, is stale: evaluate again, from the
    stored SBOM, before anything is published on it (matching again only when the database moved)."""
    latest = build.verdicts.order_by("-created").first()
    scan = ImageScan.objects.filter(build=build, status=ImageScan.Status.DONE).first()
    if latest is None or scan is None:
        return
    ruleset = ruleset_for(build.team)
    database_moved = latest.database_version != database_version()
    rules_moved = latest.policy_version != Verdict.POLICY_VERSION or latest.ruleset_version != ruleset.version
    # Seven days without an import make "assessed" data too old to publish on, with no import to say so.
    data_aged = scan_coverage(scan, max_age_days=data_max_age_days(ruleset)).reason != latest.not_assessed
    # A waiver may have expired since (the periodic expiry runs every few minutes, and an expired
    # exception must stop applying at once): a verdict that leans on one is checked again.
    leans_on_waiver = any(r.get("status") == "waived" for r in latest.results)
    if not (database_moved or rules_moved or leans_on_waiver or data_aged):
        return
    if database_moved:
        scan_match(scan)
    verdict_evaluate(build=build, trigger="gate")
