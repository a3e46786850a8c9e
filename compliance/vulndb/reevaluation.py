"""After a database import, re-match only the stored SBOM packages the changed records name.

No image is downloaded again, and no image is matched whole: the packages of every stored SBOM
that a changed (ecosystem, package) pair names are matched in bulk, and only the findings that
differ are rewritten; when the import says which advisories it changed (`vulndb_import` does),
only the findings of those advisories are matched, read and compared, as the others cannot have
changed. The findings are written a batch of scans at a time, while the verdicts of the batch
before are made on other connections. A verdict is re-evaluated only for a build whose findings
changed; the owners of published images that turned non-compliant are alerted, one message per
team when the run is done (compliance/alerts.py). Pulls are never blocked. A verdict that would
say exactly what the latest one says (a finding changed, no count or blocking one did) is not made
again: the latest one gets the new database version, so the gate sees it current. Scans without a build (scanner API
requests) get current findings too; they have no verdict.

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

At fleet scale an import can change the findings of every image, so the carried path reads per
batch of builds only what it recomputes from, summed up by the database: the latest verdict split
into its carried results (JSON text, written back as read, never decoded) and its recomputed ones,
the severity counts the findings' triggers keep (ScanSeverityCount), and per scan the number of
blocking findings with the hundred ids and ten worst a verdict names; Build and Verdict objects
are loaded only for the builds evaluated whole or alerted.

An import may also bring the first (or a fresh) vulnerability data for an ecosystem without
changing any finding: every build whose latest verdict was not assessed, and would now read
otherwise, is evaluated again (`reevaluate_not_assessed`), whatever the import changed.

Nothing an import stored goes without its re-evaluation: each batch of records leaves what it
changed in ReevaluationDue, in the batch's transaction, and `reevaluate_due` (the import commands,
and a scheduled pass for a process that died) re-evaluates every row there, then deletes them.
"""
import itertools
import json
import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from builds.models import Build
from compliance.alerts import AlertBatch
from compliance.models import AffectedPackage, Finding, PolicyException, ReevaluationDue, ScanSeverityCount, Verdict
from compliance.policy.evaluation import data_max_age_days, data_result, rule_as_enforced, verdict_evaluate
from compliance.policy.ruleset import RulesetCarry, ruleset_for
from compliance.policy.threshold import FIRST_KEPT, WORST_LISTED, blocking_summary, threshold_not_assessed, threshold_result
from compliance.vulndb.coverage import Needs, coverage_judge, imported_ecosystems, scans_needs
from compliance.vulndb.matching import Rematch, findings_rematch, rematch_write
from compliance.vulndb.names import package_name
from compliance.vulndb.osv_range import reopens_at_a_fix
from compliance.vulndb.severity import SEVERITY_ORDER
from compliance.vulndb.store import Changed, database_version
from portal.session_lock import session_lock

log = logging.getLogger(__name__)
THRESHOLD = "vulnerability-threshold"
DATA = "vulnerability-data"
RECOMPUTED = (DATA, THRESHOLD)  # the rules an import can change: computed again, never carried
BUILDS_PER_BATCH = 500


@dataclass
class Previous:
    """A build's latest verdict as the carried path reads it. Its results are split by the
    database (`_previous_verdicts`): what is carried stays JSON text, never decoded here and
    written back as it was read; only the results an import recomputes are decoded."""

    pk: int
    passed: bool
    policy_version: str
    ruleset_version: str
    not_assessed: str
    rules: list[str]  # every result's rule, in order
    waived: bool  # a result in it is waived
    carried_fail: bool  # a result of `carried` fails
    carried: str  # JSON text: the results but for RECOMPUTED, in order
    recomputed: list[dict]  # the results of RECOMPUTED, in order

    def same_as(self, recomputed: list[dict]) -> bool:
        """Whether carried + `recomputed` are exactly its results: its own recomputed results
        are those, and come last."""
        return self.recomputed == recomputed and all(rule in RECOMPUTED for rule in self.rules[len(self.rules) - len(recomputed):])


@dataclass
class Current:
    """A build whose findings changed, as the carried path needs it (a whole evaluation loads the
    Build itself)."""

    pk: int
    team_id: int
    recipe_id: int
    scan_id: int
    published: bool
    previous: Previous | None


_PREVIOUS_SQL = """
SELECT b.id, b.team_id, b.recipe_id, s.id, b.published_reference <> '', v.id, v.passed, v.policy_version,
       v.ruleset_version, v.not_assessed, split.rules, split.waived, split.carried_fail, split.carried, split.recomputed
FROM compliance_imagescan s JOIN builds_build b ON b.id = s.build_id
LEFT JOIN LATERAL (SELECT id, passed, policy_version, ruleset_version, not_assessed, results FROM compliance_verdict
                   WHERE build_id = b.id ORDER BY created DESC LIMIT 1) v ON true
LEFT JOIN LATERAL (
    SELECT coalesce(jsonb_agg(r -> 'rule' ORDER BY i), '[]')::text AS rules,
           coalesce(bool_or(r ->> 'status' = 'waived'), false) AS waived,
           coalesce(bool_or(r ->> 'status' = 'fail') FILTER (WHERE NOT recomputed), false) AS carried_fail,
           coalesce(jsonb_agg(r ORDER BY i) FILTER (WHERE NOT recomputed), '[]')::text AS carried,
           coalesce(jsonb_agg(r ORDER BY i) FILTER (WHERE recomputed), '[]')::text AS recomputed
    FROM (SELECT r, i, coalesce(r ->> 'rule' = ANY(%(recomputed)s), false) AS recomputed
          FROM jsonb_array_elements(v.results) WITH ORDINALITY e(r, i)) results) split ON v.id IS NOT NULL
WHERE s.id = ANY(%(scans)s) ORDER BY b.id
"""


def _previous_verdicts(scan_ids: list[int]) -> list[Current]:
    """The builds of these scans (in build order), each with its latest verdict, split. On
    PostgreSQL in one query that sends back a few hundred bytes of text a build: decoding every
    latest verdict's results and rule set (5 KB of JSON each) was a fifth of a fleet's re-evaluation."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PREVIOUS_SQL, {"scans": scan_ids, "recomputed": list(RECOMPUTED)})
            return [Current(pk, team, recipe, scan, published, None if verdict is None else Previous(
                        verdict, passed, policy, ruleset, not_assessed, json.loads(rules), waived, carried_fail, carried,
                        json.loads(recomputed)))
                    for pk, team, recipe, scan, published, verdict, passed, policy, ruleset, not_assessed, rules, waived,
                    carried_fail, carried, recomputed in cursor.fetchall()]
    latest = Verdict.objects.filter(build=OuterRef("pk")).order_by("-created").values("pk")[:1]
    builds = list(Build.objects.filter(scan__id__in=scan_ids).order_by("pk").annotate(previous_pk=Subquery(latest))
                  .values_list("pk", "team_id", "recipe_id", "scan__id", "published_reference", "previous_pk"))
    verdicts = Verdict.objects.defer("ruleset").in_bulk([row[-1] for row in builds if row[-1]])
    found = []
    for pk, team, recipe, scan, published, previous_pk in builds:
        v = verdicts.get(previous_pk)
        kept = [] if v is None else [r for r in v.results if r["rule"] not in RECOMPUTED]
        found.append(Current(pk, team, recipe, scan, bool(published), None if v is None else Previous(
            v.pk, v.passed, v.policy_version, v.ruleset_version, v.not_assessed, [r["rule"] for r in v.results],
            any(r["status"] == "waived" for r in v.results), any(r["status"] == "fail" for r in kept), json.dumps(kept),
            [r for r in v.results if r["rule"] in RECOMPUTED])))
    return found


def _exception_scopes() -> tuple[bool, set[int], set[int]]:
    """(any global, team ids, recipe ids) of approved, unexpired exceptions: a superset of the
    builds an exception may cover (`exceptions_active_for` decides the exact set)."""
    rows = PolicyException.objects.filter(status=PolicyException.Status.APPROVED, expires_at__gt=timezone.now())
    scopes = list(rows.values_list("scope", "team_id", "recipe_id"))
    return (any(scope == PolicyException.Scope.GLOBAL for scope, _, _ in scopes),
            {team for _, team, _ in scopes if team}, {recipe for _, _, recipe in scopes if recipe})


def _carryable(build: Current, scopes, rules: list[str] | None, carry: RulesetCarry) -> bool:
    """Whether the latest verdict's non-threshold results may be carried over (see above);
    `rules` are those a whole evaluation gives today (None: not known yet)."""
    previous, (any_global, teams, recipes) = build.previous, scopes
    if rules is None or previous is None or previous.policy_version != Verdict.POLICY_VERSION or any_global \
            or build.team_id in teams or build.recipe_id in recipes or not carry.allows(build, previous):
        return False
    return previous.rules == rules and not previous.waived and not previous.not_assessed


# In `blocking_order` (compliance/policy/threshold.py): severity rank, then vulnerability id,
# package, installed and fixed version, compared as "C" does (code points, as Python does). The ten
# worst are picked in two steps: the ten first by rank and id with their ties, then those few joined
# to their packages and ordered whole (joining every blocking finding to its package cost more).
_BLOCKING_SQL = """
SELECT s.scan_id, s.total, s.first_ids, w.worst
FROM (SELECT scan_id, count(*) AS total,
             (array_agg(vulnerability_id ORDER BY array_position(%(order)s, severity::text),
                                                  vulnerability_id COLLATE "C"))[1:%(first)s] AS first_ids
      FROM compliance_finding f WHERE f.scan_id = ANY(%(scans)s) AND {blocking} GROUP BY scan_id) s
CROSS JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('vulnerability_id', vulnerability_id, 'severity', severity, 'fixed_version',
                                        fixed_version, 'installed_version', installed_version, 'package', package)
                     ORDER BY n)::text AS worst
    FROM (SELECT f.*, p.name AS package,
                 row_number() OVER (ORDER BY f.rank, f.vulnerability_id COLLATE "C", p.name COLLATE "C",
                                    f.installed_version COLLATE "C", f.fixed_version COLLATE "C") AS n
          FROM (SELECT vulnerability_id, severity, fixed_version, installed_version, package_id,
                       array_position(%(order)s, severity::text) AS rank
                FROM compliance_finding f WHERE f.scan_id = s.scan_id AND {blocking}
                ORDER BY rank, vulnerability_id COLLATE "C" FETCH FIRST %(worst)s ROWS WITH TIES) f
          JOIN compliance_sbompackage p ON p.id = f.package_id) ranked
    WHERE n <= %(worst)s) w
"""


def blocking_summaries(scan_ids: list[int], limits: dict) -> dict[int, dict]:
    """Per scan with findings that can block, their `blocking_summary`. On PostgreSQL the
    database sums them up, one row a scan: a fleet's old images have hundreds each, of which the
    verdict keeps a hundred ids and names ten."""
    block, fixable_only = limits["block"], limits["fixable_only"]
    if connection.vendor == "postgresql":
        condition = "f.severity = ANY(%(block)s)" + (" AND f.fixed_version <> ''" if fixable_only else "")
        with connection.cursor() as cursor:
            cursor.execute(_BLOCKING_SQL.format(blocking=condition), {
                "scans": scan_ids, "block": sorted(block), "first": FIRST_KEPT, "worst": WORST_LISTED, "order": SEVERITY_ORDER})
            return {scan_id: {"blocking": total, "first_ids": first_ids, "worst": json.loads(worst)}
                    for scan_id, total, first_ids, worst in cursor.fetchall()}
    blocking = Finding.objects.filter(scan_id__in=scan_ids, severity__in=block)
    if fixable_only:
        blocking = blocking.exclude(fixed_version="")
    found = defaultdict(list)
    for scan_id, vulnerability_id, severity, fixed, installed, package in blocking.values_list(
            "scan_id", "vulnerability_id", "severity", "fixed_version", "installed_version", "package__name"):
        found[scan_id].append({"vulnerability_id": vulnerability_id, "severity": severity, "fixed_version": fixed,
                               "installed_version": installed, "package": package})
    return {scan_id: blocking_summary(findings) for scan_id, findings in found.items()}


def severity_counts(scan_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per scan, its number of findings per severity: the counts the findings' triggers keep
    (ScanSeverityCount), not a count of the findings."""
    counts = defaultdict(dict)
    for scan_id, severity, total in ScanSeverityCount.objects.filter(scan_id__in=scan_ids).values_list(
            "scan_id", "severity", "total"):
        counts[scan_id][severity] = total
    return counts


def _verdicts_insert(rows: list[tuple], *, version: int | None, carry: RulesetCarry) -> list[int]:
    """Insert carried verdicts, (build id, passed, results as JSON text, not assessed) each, made
    under today's global rule set; their pks, in order. By COPY on PostgreSQL, the pks drawn from
    the table's sequence first (bulk_create quoted every results document client-side, 1.4 s per
    1,000), the rule set written as one text for all."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        made = Verdict.objects.bulk_create([Verdict(
            build_id=build, passed=passed, results=json.loads(results), database_version=version,
            trigger="reevaluation", ruleset_version=carry.version, ruleset=carry.snapshot, not_assessed=not_assessed)
            for build, passed, results, not_assessed in rows])
        return [v.pk for v in made]
    now, table, ruleset = timezone.now(), Verdict._meta.db_table, json.dumps(carry.snapshot)
    with connection.cursor() as cursor:
        cursor.execute(f"select nextval((select pg_get_serial_sequence('{table}', 'id')::regclass)) "  # looked up once, not per row
                       "from generate_series(1, %s)", [len(rows)])
        pks = [pk for (pk,) in cursor.fetchall()]
        columns = ("id", "build_id", "passed", "results", "policy_version", "database_version", "ruleset_version",
                   "ruleset", "not_assessed", "trigger", "created")
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for pk, (build, passed, results, not_assessed) in zip(pks, rows):
                copy.write_row((pk, build, passed, results, Verdict.POLICY_VERSION, version, carry.version, ruleset,
                                not_assessed, "reevaluation", now))
    return pks


def _results_text(carried: str, recomputed: list[dict]) -> str:
    """The JSON array of the carried results (text, as read) followed by the recomputed ones."""
    added = ", ".join(json.dumps(result) for result in recomputed)
    return f"[{added}]" if carried.strip() == "[]" else f"{carried.rstrip()[:-1]}, {added}]"


@contextmanager
def _batch_transaction():
    """A batch of verdicts in one transaction: its new verdicts and those confirmed current are
    written together. On PostgreSQL without JIT: misled by the estimates of the per-scan
    summaries, the planner compiled (for a second) a query that runs in a third of one."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield


class _Verdicts:
    """The verdict pass of one re-evaluation: carried where it may be, whole where it must."""

    def __init__(self, counts: dict, alerts: AlertBatch):
        self.counts, self.alerts = counts, alerts
        self.version, self.scopes, self.carry = database_version(), _exception_scopes(), RulesetCarry()
        self.rules = None  # the rules of a whole evaluation today, learnt from the run's first one
        self.imported, self.max_age = imported_ecosystems(), data_max_age_days(self.carry.ruleset)
        self.made = self.whole = self.confirmed = 0
        self.lock = threading.Lock()  # batches may run in threads (`_write_and_evaluate`): the tallies and alerts are shared

    def batch(self, scan_ids: list[int]) -> None:
        builds = _previous_verdicts(scan_ids)
        limits, data_rule = self.carry.limits, self.carry.ruleset.get(DATA)
        blocking, severities = blocking_summaries(scan_ids, limits), severity_counts(scan_ids)
        needs, now, data_results = scans_needs(scan_ids), timezone.now(), {}
        carried, same, flipped = [], [], []
        for build in builds:
            if not _carryable(build, self.scopes, self.rules, self.carry):
                self._whole(build)
                continue
            scan_needs = needs.get(build.scan_id, Needs())
            coverage = coverage_judge(scan_needs, self.imported, max_age_days=self.max_age, now=now)
            recomputed = []
            if data_rule is not None:  # today's global rule set, which carry.allows() says the verdict had
                if scan_needs not in data_results:  # images share their needs: one result each
                    data_results[scan_needs] = rule_as_enforced(data_rule, data_result(coverage))
                recomputed.append(data_results[scan_needs])
            summary = blocking.get(build.scan_id, {"blocking": 0, "first_ids": [], "worst": []})
            threshold = threshold_result(counts=severities.get(build.scan_id, {}), **summary, **limits)
            # RuleResult.to_dict() without its deep copy, which cost more than the rule: the result is ours alone.
            recomputed.append(threshold_not_assessed({field.name: getattr(threshold, field.name) for field in fields(threshold)},
                                                     coverage.reason))
            previous = build.previous
            if previous.same_as(recomputed) and coverage.reason == previous.not_assessed:
                same.append(previous.pk)  # the same verdict: no new row, the latest is current
                continue
            results = _results_text(previous.carried, recomputed)
            passed = not previous.carried_fail and all(r["status"] != "fail" for r in recomputed)
            carried.append((build.pk, passed, results, coverage.reason))
            flipped.append(build)
        pks = _verdicts_insert(carried, version=self.version, carry=self.carry)
        if same:
            Verdict.objects.filter(pk__in=same).update(database_version=self.version)
        published = {}  # build pk -> its new verdict, for the alert: decoded for these builds alone
        for build, pk, (_, passed, results, not_assessed) in zip(flipped, pks, carried):
            if build.previous.passed and not passed and build.published:
                published[build.pk] = Verdict(pk=pk, build_id=build.pk, passed=passed, results=json.loads(results),
                                              database_version=self.version, not_assessed=not_assessed)
        alerted = list(Build.objects.filter(pk__in=list(published)).select_related("team", "recipe").order_by("pk"))
        with self.lock:
            self.made, self.confirmed = self.made + len(carried), self.confirmed + len(same)
            for build, (_, passed, _, _) in zip(flipped, carried):
                if build.pk not in published:
                    flip_count(build.previous.passed, passed, self.counts)
            for build in alerted:
                flip_alert(build, True, published[build.pk], self.counts, self.alerts)

    def _whole(self, current: Current) -> None:
        build = Build.objects.select_related("scan", "team", "recipe").get(pk=current.pk)
        after = verdict_evaluate(build=build, trigger="reevaluation")
        with self.lock:
            self.rules = self.rules or [r["rule"] for r in after.results]
            self.made, self.whole = self.made + 1, self.whole + 1
            flip_alert(build, None if current.previous is None else current.previous.passed, after, self.counts, self.alerts)


def _in_batches(scan_ids: list[int]) -> list[list[int]]:
    return [scan_ids[i:i + BUILDS_PER_BATCH] for i in range(0, len(scan_ids), BUILDS_PER_BATCH)]


def _write_and_evaluate(verdicts: _Verdicts, rematch: Rematch, evaluated: set[int]) -> None:
    """Write the rematch's findings and make the verdicts of the `evaluated` scans, a batch of
    builds at a time, each batch in a transaction of its own. The findings are written a batch of
    scans at a time too (`rematch_write`), and each batch's verdicts are made, on
    `REEVALUATION_CONNECTIONS` other database connections, while the next batch's findings are
    written: both are mostly the database's time (summing findings up, reading verdicts, writing
    rows), and a fleet's findings took as long to write as its verdicts to make. The first batch
    of verdicts runs alone: it learns today's rules from a whole evaluation. In one connection,
    every finding written first, when the caller holds a transaction (other connections would not
    see its writes) or off PostgreSQL."""
    workers = 1 if connection.vendor != "postgresql" or connection.in_atomic_block else settings.REEVALUATION_CONNECTIONS
    unchanged = _in_batches(sorted(evaluated - rematch.changed_scans))  # resumed: their findings are as written before
    if workers <= 1:
        written = [scan for part in rematch_write(rematch) for scan in part]
        for batch in unchanged + _in_batches(written):
            with _batch_transaction():
                verdicts.batch(batch)
        return
    first_done = threading.Event()

    def batch_in_own_connection(batch: list[int], first: bool) -> None:
        try:
            if not first:
                first_done.wait()
            with _batch_transaction():
                verdicts.batch(batch)
        finally:
            if first:
                first_done.set()
            connection.close()  # this thread's own

    futures = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verdicts") as pool:
        for batch in itertools.chain(unchanged, rematch_write(rematch, scans_per_part=BUILDS_PER_BATCH)):
            futures.append(pool.submit(batch_in_own_connection, batch, not futures))
    for future in futures:
        future.result()  # a failure is raised here once every other batch has run (each commits on its own)


def reevaluate_after_import(changed: set[tuple[str, str]], *, resumed: bool = False) -> dict:
    """Re-match what the changed pairs name (only the findings of the advisories the import
    changed, when `changed` lists them, as `vulndb_import` returns it) and bring the verdicts of
    the builds whose findings changed up to date. A verdict that would say exactly what the
    latest one says is not made again: the latest is marked current for the database version.
    The owners of published images that turned non-compliant get one alert per team, at the end.
    `resumed`: an earlier run on these changes may have rewritten findings (committed, some
    scans or all) and stopped before their verdicts, so the verdicts of every scan the pairs name
    are brought up to date."""
    counts, alerts = {"scans": 0, "flipped_to_fail": 0, "flipped_to_pass": 0, "alerts": 0}, AlertBatch()
    try:
        if not changed:
            reevaluate_not_assessed(counts, alerts=alerts)
            return counts
        started = time.monotonic()
        rematch = findings_rematch(changed, getattr(changed, "advisories", None))
        counts["scans"] = len(rematch.scans)
        matched = time.monotonic()
        verdicts = _Verdicts(counts, alerts)
        evaluated = rematch.scans if resumed else rematch.changed_scans
        _write_and_evaluate(verdicts, rematch, evaluated)
        log.info("re-evaluation after import: %s; findings +%d -%d (%d rewritten in place) in %d scans (matched in "
                 "%.1f s); written with %d verdicts (%d evaluated whole), %d unchanged marked current, in %.1f s", counts, rematch.added,
                 rematch.removed, rematch.replaced, len(rematch.changed_scans), matched - started, verdicts.made,
                 verdicts.whole, verdicts.confirmed, time.monotonic() - matched)
        reevaluate_not_assessed(counts, done=evaluated, alerts=alerts)
        return counts
    finally:
        alerts.send()  # what was found before a failure is still told


# One re-evaluation of what imports owe at a time, across processes (portal.session_lock): two
# would read the same rows and rewrite the same findings.
DUE_LOCK = 0x52455645  # "REVE"


def reevaluate_due(*, wait: bool = True) -> dict | None:
    """Re-evaluate what imports changed and no re-evaluation has covered yet (ReevaluationDue):
    the import just made, and whatever an import or a re-evaluation stopped half-way left behind.
    The rows are deleted once their re-evaluation is done. When one of them was taken before by a
    run that did not finish, every verdict of the scans the changes name is brought up to date
    (`resumed`). With nothing due, the builds not assessed are still looked at, as after any
    import. Adds to the counts the import runs covered (`imports`) and `resumed`. `wait`: False
    returns None at once when another process is re-evaluating."""
    with session_lock(DUE_LOCK, wait=wait) as held:
        if not held:
            return None
        due = list(ReevaluationDue.objects.order_by("pk").values_list("pk", "pairs", "advisories", "attempts", "import_run"))
        changed = Changed()
        for _, pairs, advisories, *_ in due:
            batch = Changed(tuple(pair) for pair in pairs)
            batch.advisories = set(advisories)
            changed.absorb(batch)
        ids = [pk for pk, *_ in due]
        ReevaluationDue.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1)  # committed: a retry knows
        resumed = any(attempts for *_, attempts, _ in due)
        counts = reevaluate_after_import(changed, resumed=resumed)
        ReevaluationDue.objects.filter(pk__in=ids).delete()
        return {**counts, "imports": sorted({run for *_, run in due}), "resumed": resumed}


def due_summary(counts: dict, runs: set[int]) -> str:
    """What `reevaluate_due` did after the imports `runs`, in a line (the import commands print it)."""
    earlier = [pk for pk in counts["imports"] if pk not in runs]
    left = (f" (with what import{'s' if len(earlier) > 1 else ''} {', '.join(map(str, earlier))} left to do)"
            if earlier else " (finishing a re-evaluation that stopped half-way)" if counts["resumed"] else "")
    return (f"re-evaluated {counts['scans']} images{left}; {counts['flipped_to_fail']} turned non-compliant, "
            f"{counts['alerts']} alerts sent")


def reevaluate_not_assessed(counts: dict, *, done: set[int] = frozenset(), alerts: AlertBatch) -> int:
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
                           counts, alerts)
        evaluated += 1
    counts["scans"] += evaluated
    return evaluated


def flip_count(before_passed: bool | None, after_passed: bool, counts: dict) -> str:
    """Count a verdict that flipped in `counts` (flipped_to_fail / flipped_to_pass); which way."""
    if before_passed and not after_passed:
        counts["flipped_to_fail"] += 1
        return "fail"
    if before_passed is False and after_passed:
        counts["flipped_to_pass"] += 1
        return "pass"
    return ""


def verdict_flip_count(build, before: Verdict | None, after: Verdict, counts: dict, alerts: AlertBatch) -> None:
    """Count a verdict that flipped (in `counts`' flipped_to_fail / flipped_to_pass / alerts) and
    collect the alert to the owners of a published image that stopped passing (`alerts.send()`
    sends them, one per team)."""
    flip_alert(build, None if before is None else before.passed, after, counts, alerts)


def flip_alert(build, before_passed: bool | None, after: Verdict, counts: dict, alerts: AlertBatch) -> None:
    """`verdict_flip_count` on what the latest verdict said (None: there was none)."""
    if flip_count(before_passed, after.passed, counts) == "fail" and build.published_reference:
        alerts.add(build, after)
        counts["alerts"] += 1


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
