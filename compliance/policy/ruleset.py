"""The effective policy of a team: built-in defaults, overlaid by global rows, overlaid by the
team's own rows. Its version is a hash of what is enforced, so a verdict can say which rules
it was computed under and the gate can tell when that is no longer today's policy.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from django.conf import settings

from compliance.models import PolicyRule
from compliance.policy.params import KIND_ORDER, KIND_TITLES, RuleParamsError, params_clean
from compliance.vulndb.severity import SEVERITY_ORDER

# Enforced with these parameters until a global row says otherwise (they are what the policy
# did before rules became data). banned-packages and runtime-privileges need a row to run.
BUILT_IN_KINDS = [kind for kind in KIND_ORDER if kind not in ("banned-packages", "runtime-privileges")]


def default_params(kind: str) -> dict:
    if kind == "vulnerability-threshold":
        # A misspelt severity in the environment must not stop every evaluation: keep the known ones.
        severities = [s for s in settings.POLICY_BLOCK_SEVERITIES if s in SEVERITY_ORDER] or ["Critical", "High"]
        return params_clean(kind, {"severities": severities, "fixable_only": bool(settings.POLICY_BLOCK_FIXABLE_ONLY)})
    if kind == "vulnerability-data":
        return params_clean(kind, {"max_age_days": settings.VULNDB_MAX_AGE_DAYS})
    return {}


@dataclass(frozen=True)
class EffectiveRule:
    kind: str
    action: str  # block or warn
    params: dict
    source: str  # "default", "global" or "team"
    error: str = ""  # parameters stored without validation (a shell, a bad import): the rule fails

    @property
    def title(self) -> str:
        return KIND_TITLES[self.kind]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[EffectiveRule, ...]

    @property
    def version(self) -> str:
        """Changes exactly when what is enforced changes; where a rule came from does not count."""
        enforced = [{"kind": r.kind, "action": r.action, "params": r.params, "error": r.error} for r in self.rules]
        return hashlib.sha256(json.dumps(enforced, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def snapshot(self) -> list[dict]:
        return [asdict(r) for r in self.rules]

    def get(self, kind: str) -> EffectiveRule | None:
        return next((r for r in self.rules if r.kind == kind), None)


def _from_row(row, source: str) -> EffectiveRule:
    try:
        return EffectiveRule(row.kind, row.action, params_clean(row.kind, row.params), source)
    except RuleParamsError as error:
        return EffectiveRule(row.kind, row.action, row.params if isinstance(row.params, dict) else {}, source, str(error))


def ruleset_combine(global_rows, team_rows) -> RuleSet:
    """Defaults, then global rows, then team rows: the last word on a kind wins; disabled drops it."""
    chosen: dict[str, EffectiveRule | None] = {
        kind: EffectiveRule(kind, "block", default_params(kind), "default") for kind in BUILT_IN_KINDS}
    for rows, source in ((global_rows, "global"), (team_rows, "team")):
        for row in rows:
            chosen[row.kind] = _from_row(row, source) if row.enabled else None
    return RuleSet(tuple(chosen[kind] for kind in KIND_ORDER if chosen.get(kind) is not None))


def ruleset_for(team) -> RuleSet:
    """The rules enforced on `team`'s images (team None: the global policy)."""
    rows = list(PolicyRule.objects.filter(team__isnull=True) if team is None
                else PolicyRule.objects.filter(team__isnull=True) | PolicyRule.objects.filter(team=team))
    return ruleset_combine([r for r in rows if r.team_id is None], [r for r in rows if r.team_id is not None])


class RulesetCarry:
    """For re-evaluation after an import: when may a build's earlier results, but for the
    threshold and the vulnerability-data rule, be carried over? Only when the build is under the
    global policy (its team has no rows of its own), its latest verdict was computed under
    today's global rule set, and the threshold rule is enforced as a blocking rule (the carried
    path recomputes only those two)."""

    def __init__(self):
        self.ruleset = ruleset_for(None)
        self.version, self.snapshot = self.ruleset.version, self.ruleset.snapshot()
        self.teams_with_rules = set(PolicyRule.objects.exclude(team__isnull=True).values_list("team_id", flat=True))
        threshold = self.ruleset.get("vulnerability-threshold")
        self.usable = threshold is not None and threshold.action == "block" and not threshold.error
        self.limits = ({"block": set(threshold.params["severities"]), "fixable_only": threshold.params["fixable_only"]}
                       if self.usable else {"block": set(), "fixable_only": True})

    def allows(self, build, previous) -> bool:
        return self.usable and build.team_id not in self.teams_with_rules and previous.ruleset_version == self.version
