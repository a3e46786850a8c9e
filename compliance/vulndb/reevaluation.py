"""After a database import, re-match only the stored SBOM packages the changed records name.

No image is downloaded again, and no image is matched whole: the packages of every stored SBOM
that a changed (ecosystem, package) pair names are matched in bulk, and only the findings that
differ are rewritten; when the import says which advisories it changed (`vulndb_import` does),
only the findings of those advisories are matched, read and compared, as the others cannot have
changed. A verdict is re-evaluated only for a build whose findings changed; the owners of a
published image that turned non-compliant are alerted. Pulls are never blocked. A verdict that
would say exactly what the latest one says (a finding changed, no count or blocking one did) is
not made again: the latest one gets the new database version, so the gate sees it current.
Scans without a build (scanner API requests) get current findings too; they have no verdict.

An import changes findings and how current the data is, so only the rules that read those (the
threshold, and the vulnerability-data rule) are computed again: the other results (approved base,
user, secrets, Dockerfile lint) are carried over from the build's latest verdict, as the same
inputs would give the same answers. Whenever that could
be wrong, the whole verdict is evaluated by `verdict_evaluate` instead: no usable latest verdict
(none, another policy version, other rules than a whole evaluation gives today, as after a rule
was added), a rule set other than today's global one (`RulesetCarry`: a rule was edited, or the
team has rules of its own), a waived result in it, a verdict that was not assessed, or an approved
exception whose scope may cover the build (waivers need every finding, not a count). The first
build of a run is always evaluated whole: that is how today's rules are known. Changes to those
other inputs re-evaluate verdicts on their own (exceptions, the gate).

An import may also bring the first (or a fresh) vulnerability data for an ecosystem without
changing any finding: every build whose latest verdict was not assessed, and would now read
otherwise, is evaluated again (`reevaluate_not_assessed`), whatever the import changed.
"""
import json
import logging
import time
from collections import defaultdict
from dataclasses import fields

from django.db import connection
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from builds.models import Build
from compliance.alerts import alert_noncompliant
from compliance.models import AffectedPackage, Finding, PolicyException, Verdict
from compliance.policy.evaluation import data_max_age_days, data_result, rule_as_enforced, verdict_evaluate
from compliance.policy.ruleset import RulesetCarry, ruleset_for
from compliance.policy.threshold import rule_vulnerability_threshold, threshold_not_assessed
from compliance.vulndb.coverage import Needs, coverage_judge, imported_ecosystems, scans_needs
from compliance.vulndb.matching import findings_rematch
from compliance.vulndb.names import package_name
from compliance.vulndb.osv_range import reopens_at_a_fix
from compliance.vulndb.store import database_version

log = logging.getLogger(__name__)
THRESHOLD = "vulnerability-threshold"
DATA = "vulnerability-data"
RECOMPUTED = (DATA, THRESHOLD)  # the rules an import can change: computed again, never carried
BUILDS_PER_BATCH = 500


def builds_of_scans(scan_ids: set[int]):
    """Batches of the builds of these scans, each with its latest verdict as `previous`."""
    latest = Verdict.objects.filter(build=OuterRef("pk")).order_by("-created").values("pk")[:1]
    ordered = sorted(scan_ids)
    for i in range(0, len(ordered), BUILDS_PER_BATCH):
        builds = list(Build.objects.filter(scan__id__in=ordered[i:i + BUILDS_PER_BATCH])
                      .select_related("scan", "team", "recipe")
                      # what re-evaluation never reads (a whole evaluation loads what it needs)
                      .defer("scan__facts", "snapshot", "context_files", "steps", "recipe__script_findings")
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
    if [r["rule"] for r in previous.results] != rules or any(r["status"] == "waived" for r in previous.results) \
            or previous.not_assessed:
        return None
    return [r for r in previous.results if r["rule"] not in RECOMPUTED]


def blocking_findings(scan_ids: list[int], limits: dict) -> dict[int, list[dict]]:
    """Per scan, every finding that can block, as `findings_as_dicts` gives it, in id order."""
    block, fixable_only = limits["block"], limits["fixable_only"]
    blocking = Finding.objects.filter(scan_id__in=scan_ids, severity__in=block)
    if fixable_only:
        blocking = blocking.exclude(fixed_version="")
    found = defaultdict(list)
    for scan_id, vulnerability_id, severity, fixed, installed, package in blocking.order_by("id").values_list(
            "scan_id", "vulnerability_id", "severity", "fixed_version", "installed_version", "package__name"):
        found[scan_id].append({"vulnerability_id": vulnerability_id, "severity": severity, "fixed_version": fixed,
                               "installed_version": installed, "package": package})
    return found


SCANS_PER_COUNT = 20_000  # scan ids per grouped count: PostgreSQL takes at most 65,535 parameters a query


def severity_counts(scan_ids: set[int]) -> dict[int, dict[str, int]]:
    """Per scan, its number of findings per severity, for all the scans at once: when most of a
    fleet changed, one pass over the findings table costs far less than one per batch of builds."""
    counts, ordered = defaultdict(dict), sorted(scan_ids)
    for i in range(0, len(ordered), SCANS_PER_COUNT):
        counted = Finding.objects.filter(scan_id__in=ordered[i:i + SCANS_PER_COUNT]).order_by()
        for scan_id, severity, total in counted.values_list("scan_id", "severity").annotate(total=Count("id")):
            counts[scan_id][severity] = total
    return counts


def _verdicts_insert(verdicts: list[Verdict]) -> None:
    """Insert verdicts, their pks set. By COPY on PostgreSQL, the pks drawn from the table's
    sequence first: bulk_create quoted every results document client-side (1.4 s per 1,000)."""
    if connection.vendor != "postgresql" or not verdicts:
        Verdict.objects.bulk_create(verdicts)
        return
    now, table = timezone.now(), Verdict._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"select nextval(pg_get_serial_sequence('{table}', 'id')) from generate_series(1, %s)",
                       [len(verdicts)])
        for verdict, (pk,) in zip(verdicts, cursor.fetchall()):
            verdict.pk, verdict.created = pk, now
        columns = ("id", "build_id", "passed", "results", "policy_version", "database_version", "ruleset_version",
                   "ruleset", "not_assessed", "trigger", "created")
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for v in verdicts:
                copy.write_row((v.pk, v.build_id, v.passed, json.dumps(v.results), v.policy_version,
                                v.database_version, v.ruleset_version, json.dumps(v.ruleset), v.not_assessed, v.trigger,
                                v.created))


def reevaluate_after_import(changed: set[tuple[str, str]]) -> dict:
    """Re-match what the changed pairs name (only the findings of the advisories the import
    changed, when `changed` lists them, as `vulndb_import` returns it) and bring the verdicts of
    the builds whose findings changed up to date. A verdict that would say exactly what the
    latest one says is not made again: the latest is marked current for the database version."""
    counts = {"scans": 0, "flipped_to_fail": 0, "flipped_to_pass": 0, "alerts": 0}
    if not changed:
        reevaluate_not_assessed(counts)
        return counts
    started = time.monotonic()
    rematch = findings_rematch(changed, getattr(changed, "advisories", None))
    counts["scans"] = len(rematch.scans)
    matched = time.monotonic()
    version, scopes, rules, made, whole, confirmed = database_version(), _exception_scopes(), None, 0, 0, 0
    carry = RulesetCarry()  # builds under another rule set than today's global one are evaluated whole
    limits, imported, max_age = carry.limits, imported_ecosystems(), data_max_age_days(carry.ruleset)
    severities = severity_counts(rematch.changed_scans)
    for builds in builds_of_scans(rematch.changed_scans):
        blocking = blocking_findings([build.scan.pk for build in builds], limits)
        needs = scans_needs(build.scan.pk for build in builds)
        carried, evaluated, same = [], [], []
        for build in builds:
            results = _carried_results(build, scopes, rules, carry)
            if results is None:
                evaluated.append((build, verdict_evaluate(build=build, trigger="reevaluation")))
                rules = rules or [r["rule"] for r in evaluated[-1][1].results]
                continue
            threshold = rule_vulnerability_threshold(blocking.get(build.scan.pk, []),
                                                     counts=severities.get(build.scan.pk, {}), **limits)
            coverage = coverage_judge(needs.get(build.scan.pk, Needs()), imported, max_age_days=max_age, now=timezone.now())
            if carry.ruleset.get(DATA) is not None:  # today's global rule set, which carry.allows() says the verdict had
                results.append(rule_as_enforced(carry.ruleset.get(DATA), data_result(coverage)))
            # RuleResult.to_dict() without its deep copy, which cost more than the rule: the result is ours alone.
            results.append(threshold_not_assessed({field.name: getattr(threshold, field.name) for field in fields(threshold)},
                                                  coverage.reason))
            if results == build.previous.results and coverage.reason == build.previous.not_assessed:
                same.append(build.previous.pk)  # the same verdict: no new row, the latest is current
                continue
            carried.append((build, Verdict(build=build, passed=all(r["status"] != "fail" for r in results),
                                           results=results, database_version=version, trigger="reevaluation",
                                           ruleset_version=carry.version, ruleset=carry.snapshot,
                                           not_assessed=coverage.reason)))
        _verdicts_insert([verdict for _, verdict in carried])
        if same:
            Verdict.objects.filter(pk__in=same).update(database_version=version)
        made, whole, confirmed = made + len(carried) + len(evaluated), whole + len(evaluated), confirmed + len(same)
        for build, after in carried + evaluated:
            verdict_flip_count(build, build.previous, after, counts)
    log.info("re-evaluation after import: %s; findings +%d -%d in %d scans (matched in %.1f s); %d verdicts "
             "(%d evaluated whole), %d unchanged marked current, in %.1f s", counts, rematch.added, rematch.removed,
             len(rematch.changed_scans), matched - started, made, whole, confirmed, time.monotonic() - matched)
    reevaluate_not_assessed(counts, done=rematch.changed_scans)
    return counts


def reevaluate_not_assessed(counts: dict, *, done: set[int] = frozenset()) -> int:
    """Evaluate again every build whose latest verdict was not assessed and would now read
    otherwise (an import brought its ecosystem's data, or fresher data); `done` are scans this
    run evaluated already. A build whose reason stands (a deb on Ubuntu, no data yet) is left."""
    latest = Verdict.objects.filter(build=OuterRef("pk")).order_by("-created")
    found = (Build.objects.filter(status=Build.Status.SUCCEEDED, scan__status="done")
             .annotate(not_assessed_because=Subquery(latest.values("not_assessed")[:1]),
                       previous_pk=Subquery(latest.values("pk")[:1]))
             .exclude(not_assessed_because="").exclude(not_assessed_because__isnull=True).select_related("scan", "team"))
    builds = [b for b in found if b.scan.pk not in done]  # `done` may hold more ids than a query takes
    if not builds:
        return 0
    imported, needs, evaluated = imported_ecosystems(), scans_needs(b.scan.pk for b in builds), 0
    previous = Verdict.objects.in_bulk([b.previous_pk for b in builds])
    for build in builds:
        from_rules = data_max_age_days(ruleset_for(build.team))
        coverage = coverage_judge(needs.get(build.scan.pk, Needs()), imported, max_age_days=from_rules, now=timezone.now())
        if coverage.reason == build.not_assessed_because:
            continue
        verdict_flip_count(build, previous.get(build.previous_pk), verdict_evaluate(build=build, trigger="reevaluation"),
                           counts)
        evaluated += 1
    counts["scans"] += evaluated
    return evaluated


def verdict_flip_count(build, before: Verdict | None, after: Verdict, counts: dict) -> None:
    """Count a verdict that flipped (in `counts`' flipped_to_fail / flipped_to_pass / alerts) and
    alert the owners of a published image that stopped passing."""
    if before is not None and before.passed and not after.passed:
        counts["flipped_to_fail"] += 1
        if build.published_reference:
            alert_noncompliant(build, after)
            counts["alerts"] += 1
    elif before is not None and not before.passed and after.passed:
        counts["flipped_to_pass"] += 1


def _spelled_otherwise(record: dict, ecosystem: str, name: str) -> bool:
    """Whether the stored record names the package in another spelling than the one it is now
    stored and matched under (PyPI names before they were stored as PEP 503 spells them)."""
    return any(isinstance(a, dict) and a.get("ecosystem") == ecosystem and a.get("name") != name
               and package_name(ecosystem, a.get("name") or "") == name for a in (record or {}).get("affected") or [])


def reevaluate_after_matching_change(*, everything: bool = False) -> dict:
    """After a change of how records are read: re-match the packages whose stored records read
    differently now (a range that re-opens at a fix's version, a name stored in another spelling
    than the record's), or every package with `everything`, and bring the verdicts up to date as an
    import would."""
    rows = AffectedPackage.objects.values_list("ecosystem", "name", "ranges", "advisory__record")
    pairs = {(ecosystem, name) for ecosystem, name, ranges, record in rows.iterator(chunk_size=2000)
             if everything or reopens_at_a_fix(ranges) or _spelled_otherwise(record, ecosystem, name)}
    if not pairs:
        return {"scans": 0, "flipped_to_fail": 0, "flipped_to_pass": 0, "alerts": 0}
    return reevaluate_after_import(pairs)
