"""Bring verdicts up to date after an admin changes a policy rule.

Without this, a tightened rule would only show at the next publication (the gate re-evaluates a
verdict made under another rule set) or after the next database import, and the dashboards and
alerts for images already published would keep telling the old story. A global rule concerns
every team (those with a row of their own of that kind are unaffected, but telling them apart
costs more than evaluating them); a team's rule concerns only that team.
"""
import logging

from django.db import transaction

from builds.lookups import latest_of_each_recipe
from builds.models import Build
from compliance.models import PolicyRule, Verdict
from compliance.reevaluation import verdict_flip_count
from compliance.services import verdict_evaluate

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


def policy_change_dispatch(rule: PolicyRule) -> None:
    """Queue the re-evaluation once the rule change is committed (a rolled-back change queues
    nothing). Called for every save and delete, whoever made it: API, admin or shell."""
    from compliance.tasks import reevaluate_policy_change

    team_id = rule.team_id

    def send():
        try:
            reevaluate_policy_change.delay(team_id)
        except Exception:  # the broker is down: the rule change stands; the gate still re-evaluates before publishing
            log.exception("could not queue the re-evaluation after a policy change (team %s)", team_id or "all")

    transaction.on_commit(send)
