"""Bring verdicts up to date after an event that changes what they depend on: a policy rule, the
set of approved bases, an exception decision or expiry, an imported scanner report. Each event
re-evaluates the builds it concerns through `verdicts_reevaluate`, which also alerts the owners of
a published image that stopped passing (vulnerability data imports have their own, incremental
path: compliance/vulndb/reevaluation.py).

Without this, a tightened rule would only show at the next publication (the gate re-evaluates a
verdict made under another rule set) or after the next database import, and the dashboards and
alerts for images already published would keep telling the old story. A global rule concerns
every team (those with a row of their own of that kind are unaffected, but telling them apart
costs more than evaluating them); a team's rule concerns only that team.
"""
import logging

from django.core.exceptions import PermissionDenied

from builds.models import Build
from builds.selectors import latest_of_each_recipe
from compliance.alerts import AlertBatch
from compliance.models import PolicyReevaluationDue, Verdict
from compliance.policy.evaluation import verdict_evaluate
from compliance.vulndb.matching import scan_match
from compliance.vulndb.reevaluation import verdict_flip_count
from portal.audit import audit_record
from portal.rbac import is_security_reviewer, teams_of
from portal.session_lock import session_lock

log = logging.getLogger(__name__)


def builds_under_policy(team_id: int | None):
    """The latest scanned build of every recipe (of one team, or of all)."""
    builds = Build.objects.filter(status=Build.Status.SUCCEEDED, scan__status="done")
    if team_id is not None:
        builds = builds.filter(team_id=team_id)
    return latest_of_each_recipe(builds).select_related("team", "recipe", "scan").order_by("pk")


def verdicts_reevaluate(builds, *, trigger: str) -> dict:
    """Evaluate each build under today's rules and findings; alert the owners of published images
    that no longer pass, one alert per team when all are evaluated. Returns counts of builds
    evaluated and flips."""
    counts = {"builds": 0, "flipped_to_fail": 0, "flipped_to_pass": 0, "alerts": 0}
    alerts = AlertBatch()
    try:
        for build in builds:
            before = Verdict.objects.filter(build=build).order_by("-created").first()
            after = verdict_evaluate(build=build, trigger=trigger)
            counts["builds"] += 1
            verdict_flip_count(build, before, after, counts, alerts)
    finally:
        alerts.send()
    return counts


# One run of the policy re-evaluations owed at a time, across processes (portal.session_lock).
POLICY_DUE_LOCK = 0x504F4C49  # "POLI"


def policy_reevaluations_due_run(*, wait: bool) -> dict | None:
    """Re-evaluate for every change still owed (PolicyReevaluationDue): one pass over every team
    when one of them concerns all, else one per team, then delete the rows read. The task a change
    queues runs it, and so does a scheduled pass for a message the broker never took or a worker
    that died in the middle. `wait`: False returns None at once while another process runs it."""
    with session_lock(POLICY_DUE_LOCK, wait=wait) as held:
        if not held:
            return None
        due = list(PolicyReevaluationDue.objects.order_by("pk").values_list("pk", "team_id", "trigger"))
        scopes = {}  # team id (None: every team) -> the trigger of its latest change
        for _, team_id, trigger in due:
            scopes[team_id] = trigger
        if None in scopes:
            scopes = {None: scopes[None]}
        counts = {"builds": 0, "flipped_to_fail": 0, "flipped_to_pass": 0, "alerts": 0}
        for team_id, trigger in scopes.items():
            for key, value in reevaluate_after_policy_change(team_id, trigger=trigger).items():
                counts[key] += value
        PolicyReevaluationDue.objects.filter(pk__in=[pk for pk, _, _ in due]).delete()
        return counts


def reevaluate_after_policy_change(team_id: int | None, *, trigger: str = "policy-change") -> dict:
    """Every current build of the team (or of all teams) under today's rules; `trigger` names the
    event (a rule, or the approved bases, which every image's base and privilege rules read)."""
    counts = verdicts_reevaluate(builds_under_policy(team_id), trigger=trigger)
    log.info("re-evaluation after %s (team %s): %s", trigger, team_id or "all", counts)
    return counts


def verdict_reevaluate_requested(*, build: Build, actor) -> Verdict:
    """A person asked for the build's verdict again (its page said it is stale): match its stored
    SBOM against today's data and evaluate today's rules. The owning team or a security reviewer."""
    if not (is_security_reviewer(actor) or teams_of(actor).filter(pk=build.team_id).exists()):
        raise PermissionDenied("Only the image's team or a security reviewer may re-evaluate it.")
    if build.status != Build.Status.SUCCEEDED or not hasattr(build, "scan") or build.scan.status != "done":
        raise PermissionDenied("Only a built and scanned image has a verdict to re-evaluate.")
    scan_match(build.scan)
    counts = verdicts_reevaluate([build], trigger="requested")
    audit_record(actor=actor, action="verdict.reevaluated", target=build, team=build.team, **counts)
    return Verdict.objects.filter(build=build).order_by("-created", "-pk").first()
