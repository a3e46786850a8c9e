"""Bring verdicts up to date after an admin changes a policy rule.

Without this, a tightened rule would only show at the next publication (the gate re-evaluates a
verdict made under another rule set) or after the next database import, and the dashboards and
alerts for images already published would keep telling the old story. A global rule concerns
every team (those with a row of their own of that kind are unaffected, but telling them apart
costs more than evaluating them); a team's rule concerns only that team.
"""
import logging

from builds.models import Build
from builds.selectors import latest_of_each_recipe
from compliance.models import Verdict
from compliance.policy.evaluation import verdict_evaluate
from compliance.vulndb.reevaluation import verdict_flip_count

log = logging.getLogger(__name__)


def builds_under_policy(team_id: int | None):
    """The latest scanned build of every recipe (of one team, or of all)."""
    builds = Build.objects.filter(status=Build.Status.SUCCEEDED, scan__status="done")
    if team_id is not None:
        builds = builds.filter(team_id=team_id)
    return latest_of_each_recipe(builds).select_related("team", "recipe", "scan").order_by("pk")


def reevaluate_after_policy_change(team_id: int | None) -> dict:
    """Evaluate those builds under today's rules; alert the owners of published images that no
    longer pass. Returns counts of builds evaluated and flips."""
    counts = {"builds": 0, "flipped_to_fail": 0, "flipped_to_pass": 0, "alerts": 0}
    for build in builds_under_policy(team_id):
        before = Verdict.objects.filter(build=build).order_by("-created").first()
        after = verdict_evaluate(build=build, trigger="policy-change")
        counts["builds"] += 1
        verdict_flip_count(build, before, after, counts)
    log.info("re-evaluation after a policy change (team %s): %s", team_id or "all", counts)
    return counts
