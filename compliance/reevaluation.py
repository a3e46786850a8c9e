"""After a database import, re-match only the stored SBOM packages the changed records name.

No image is downloaded again, and no image is matched whole: the packages of every stored SBOM
that a changed (ecosystem, package) pair names are matched in bulk, and only the findings that
differ are rewritten. A verdict is re-evaluated only for a build whose findings changed; the
owners of a published image that turned non-compliant are alerted. Pulls are never blocked.
Scans without a build (scanner API requests) get current findings too; they have no verdict.

An import changes findings and nothing else, so only the rule that reads findings is computed
again: the other results (approved base, user, secrets, Dockerfile lint) are carried over from
the build's latest verdict, as the same inputs would give the same answers. Whenever that could
be wrong, the whole verdict is evaluated by `verdict_evaluate` instead: no usable latest verdict
(none, another policy version, other rules than a whole evaluation gives today, as after a rule
was added), a rule set other than today's global one (`RulesetCarry`: a rule was edited, or the
team has rules of its own), a waived result in it, or an approved exception whose scope may cover the build
(waivers need every finding, not a count). The first build of a run is always evaluated whole:
that is how today's rules are known. Changes to those other inputs re-evaluate verdicts on their
own (exceptions, the gate).
"""
import logging
import time
from collections import defaultdict
from dataclasses import fields

from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from builds.models import Build
from compliance.alerts import alert_noncompliant
from compliance.matching import findings_rematch
from compliance.models import Finding, PolicyException, Verdict
from compliance.policy_vulns import rule_vulnerability_threshold
from compliance.ruleset import RulesetCarry
from compliance.services import verdict_evaluate
from compliance.vulndb_store import database_version

log = logging.getLogger(__name__)
THRESHOLD = "vulnerability-threshold"
BUILDS_PER_BATCH = 500


def builds_of_scans(scan_ids: set[int]):
    """Batches of the builds of these scans, each with its latest verdict as `previous`."""
    latest = Verdict.objects.filter(build=OuterRef("pk")).order_by("-created").values("pk")[:1]
    ordered = sorted(scan_ids)
    for i in range(0, len(ordered), BUILDS_PER_BATCH):
        builds = list(Build.objects.filter(scan__id__in=ordered[i:i + BUILDS_PER_BATCH])
                      .select_related("scan", "team", "recipe").defer("scan__facts", "snapshot", "context_files")
                      .annotate(previous_pk=Subquery(latest)).order_by("pk"))
        previous = Verdict.objects.in_bulk([b.previous_pk for b in builds if b.previous_pk])
        for build in builds:
            build.previous = previous.get(build.previous_pk)
        yield builds


def _exception_scopes() -> tuple[bool, set[int], set[int]]:
    """(any global, team ids, recipe ids) of approved, unexpired exceptions: a superset of the
    builds an exception may cover (`exceptions_active_for` decides the exact set)."""
    rows = PolicyException.objects.filter(status=PolicyException.Status.APPROVED, expires_at__gt=timezone.now())
    scopes = list(rows.values_list("scope", "team_id", "recipe_id"))
    return (any(scope == PolicyException.Scope.GLOBAL for scope, _, _ in scopes),
            {team for _, team, _ in scopes if team}, {recipe for _, _, recipe in scopes if recipe})


def _carried_results(build, scopes, rules: list[str] | None, carry: RulesetCarry) -> list[dict] | None:
    """The latest verdict's non-threshold results, when they may be carried over (see above);
    `rules` are those a whole evaluation gives today (None: not known yet)."""
    previous, (any_global, teams, recipes) = build.previous, scopes
    if rules is None or previous is None or previous.policy_version != Verdict.POLICY_VERSION or any_global \
            or build.team_id in teams or build.recipe_id in recipes or not carry.allows(build, previous):
        return None
    if [r["rule"] for r in previous.results] != rules or any(r["status"] == "waived" for r in previous.results):
        return None
    return [r for r in previous.results if r["rule"] != THRESHOLD]


def threshold_inputs(scan_ids: list[int], limits: dict) -> dict[int, list[dict]]:
    """Per scan, what the threshold rule needs, in two queries: every finding that can block
    (as `findings_as_dicts` gives it) and, for the counts, a blank stand-in for each other one."""
    block, fixable_only = limits["block"], limits["fixable_only"]
    blocking = Finding.objects.filter(scan_id__in=scan_ids, severity__in=block)
    if fixable_only:
        blocking = blocking.exclude(fixed_version="")
    findings, shown = defaultdict(list), defaultdict(int)
    for scan_id, vulnerability_id, severity, fixed, installed, package in blocking.order_by("id").values_list(
            "scan_id", "vulnerability_id", "severity", "fixed_version", "installed_version", "package__name"):
        findings[scan_id].append({"vulnerability_id": vulnerability_id, "severity": severity, "fixed_version": fixed,
                                  "installed_version": installed, "package": package})
        shown[(scan_id, severity)] += 1
    counted = Finding.objects.filter(scan_id__in=scan_ids).order_by().values_list("scan_id", "severity")
    for scan_id, severity, total in counted.annotate(total=Count("id")):
        blank = {"vulnerability_id": "", "severity": severity, "fixed_version": "", "installed_version": "",
                 "package": ""}  # cannot block: it has a severity that does not, or no fix when fixes count
        findings[scan_id] += [blank] * (total - shown[(scan_id, severity)])
    return findings


def reevaluate_after_import(changed: set[tuple[str, str]]) -> dict:
    counts = {"scans": 0, "flipped_to_fail": 0, "flipped_to_pass": 0, "alerts": 0}
    if not changed:
        return counts
    started = time.monotonic()
    rematch = findings_rematch(changed)
    counts["scans"] = len(rematch.scans)
    matched = time.monotonic()
    version, scopes, rules, made, whole = database_version(), _exception_scopes(), None, 0, 0
    carry = RulesetCarry()  # builds under another rule set than today's global one are evaluated whole
    limits = carry.limits
    for builds in builds_of_scans(rematch.changed_scans):
        inputs = threshold_inputs([build.scan.pk for build in builds], limits)
        carried, evaluated = [], []
        for build in builds:
            results = _carried_results(build, scopes, rules, carry)
            if results is None:
                evaluated.append((build, verdict_evaluate(build=build, trigger="reevaluation")))
                rules = rules or [r["rule"] for r in evaluated[-1][1].results]
                continue
            threshold = rule_vulnerability_threshold(inputs.get(build.scan.pk, []), **limits)
            # RuleResult.to_dict() without its deep copy, which cost more than the rule: the result is ours alone.
            results.append({field.name: getattr(threshold, field.name) for field in fields(threshold)})
            carried.append((build, Verdict(build=build, passed=all(r["status"] != "fail" for r in results),
                                           results=results, database_version=version, trigger="reevaluation",
                                           ruleset_version=carry.version, ruleset=carry.snapshot)))
        Verdict.objects.bulk_create([verdict for _, verdict in carried])
        made, whole = made + len(carried) + len(evaluated), whole + len(evaluated)
        for build, after in carried + evaluated:
            _count_flip(build, after, counts)
    log.info("re-evaluation after import: %s; findings +%d -%d in %d scans (matched in %.1f s); %d verdicts "
             "(%d evaluated whole) in %.1f s", counts, rematch.added, rematch.removed, len(rematch.changed_scans),
             matched - started, made, whole, time.monotonic() - matched)
    return counts


def _count_flip(build, after: Verdict, counts: dict) -> None:
    before = build.previous
    if before is not None and before.passed and not after.passed:
        counts["flipped_to_fail"] += 1
        if build.published_reference:
            alert_noncompliant(build, after)
            counts["alerts"] += 1
    elif before is not None and not before.passed and after.passed:
        counts["flipped_to_pass"] += 1
