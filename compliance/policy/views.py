"""The policy page: the rules a team's images face, where each comes from, and its parameters."""
import json

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from compliance.policy.params import params_summary
from compliance.policy.ruleset import ruleset_for
from portal.rbac import teams_of, visible_teams


@require_GET
def policy_page(request):
    """?team=<slug> among the teams the user may see; without it, the user's first team (or the
    global policy for those in no team)."""
    teams = list(visible_teams(request.user).order_by("name"))
    slug = request.GET.get("team", "")
    if slug:
        team = next((t for t in teams if t.slug == slug), None)
        if team is None:
            raise Http404("No such team among the teams you may see.")
    else:
        team = teams_of(request.user).order_by("name").first()
    ruleset = ruleset_for(team)
    rows = [{"rule": rule, "summary": params_summary(rule.kind, rule.params),
             "params": json.dumps(rule.params, sort_keys=True) if rule.params else ""} for rule in ruleset.rules]
    return render(request, "compliance/policy.html", {"team": team, "teams": teams, "rows": rows,
                                                      "version": ruleset.version})
