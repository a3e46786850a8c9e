"""Store imported advisories: idempotent upserts by `modified`, withdrawn records retired.

Parsers (compliance/vulndb/importers/) turn feeds into Advisory dataclasses; this module is the
only one that writes them to the database. Each import is an ImportRun with its counts, and
returns the (ecosystem, package) pairs it changed so re-evaluation touches only those.
"""
import datetime
from itertools import islice
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from compliance.models import Advisory, AffectedPackage, ImportRun, ReevaluationDue
from compliance.vulndb.advisory import Rejection
from compliance.vulndb.coverage import ecosystems_imported
from compliance.vulndb.importers.alpine_secdb import read_alpine_secdb
from compliance.vulndb.importers.debian_lists import read_debian_lists
from compliance.vulndb.importers.debian_tracker import read_debian_tracker
from compliance.vulndb.importers.osv import read_osv_source

BATCH = 500
MAX_REJECTIONS_KEPT = 200


def _now_rfc3339() -> str:
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_read(source: str, path: str):
    """The advisories and rejections of one feed file or folder."""
    if source == "osv":
        return read_osv_source(path)
    if source == "debian-tracker":
        return read_debian_tracker(path, modified=_now_rfc3339())
    if source in ("debian-dsa", "debian-dla"):
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        return read_debian_lists(text, kind=source.rsplit("-", 1)[1].upper(), origin=str(path))
    if source == "alpine-secdb":
        return read_alpine_secdb(path, modified=_now_rfc3339())
    raise ValueError(f"unknown feed source {source!r}; one of osv, debian-tracker, debian-dsa, debian-dla, alpine-secdb")


def _when(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value.replace("z", "Z"))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, datetime.timezone.utc)
    return parsed


def _affected_rows(advisory_row: Advisory, record) -> list[AffectedPackage]:
    return [
        AffectedPackage(advisory=advisory_row, ecosystem=a.ecosystem, name=a.name, ranges=a.ranges, versions=a.versions,
                        ecosystem_specific=a.ecosystem_specific, database_specific=a.database_specific, severity=a.severity)
        for a in record.affected
    ]


def _same_content(row: Advisory, data: dict) -> bool:
    """Whether a stored record says the same as `data` but for `modified`: feeds with no
    modification dates (Alpine secdb, the tracker export) stamp every record with the import
    time, and a record re-exported unchanged changes nothing either."""
    return {**row.record, "modified": None} == {**data, "modified": None}


UPDATED_FIELDS = ["modified", "published", "withdrawn", "aliases", "summary", "record", "import_run"]


class Changed(set):
    """The (ecosystem, name) pairs an import changed, a set; `advisories` are the ids of the
    advisories it added, updated or withdrew: only their findings can have changed. A plain set
    of pairs (or one combined from two imports with `|`) has no ids: re-evaluation then
    re-matches every advisory of the pairs."""

    def __init__(self, *args):
        super().__init__(*args)
        self.advisories: set[int] | None = set()

    def absorb(self, other: set) -> None:
        """Add another import's changes (vulndb_sync re-evaluates once for all its feeds). The
        advisory ids stay known only while every absorbed change knows them; None means unknown."""
        if not other:
            return
        self.update(other)
        theirs = getattr(other, "advisories", None)
        self.advisories = None if self.advisories is None or theirs is None else self.advisories | theirs


def _store_batch(run: ImportRun, records: list, changed: Changed) -> None:
    """Upsert one batch in one transaction: one query reads what is stored, new advisories go in
    one bulk insert, and the affected entries of the batch are replaced in bulk; only an updated
    advisory costs a query of its own."""
    keys = {(r.source, r.id) for r in records}
    existing = {
        (a.source, a.osv_id): a
        for a in Advisory.objects.filter(source__in={k[0] for k in keys}, osv_id__in={k[1] for k in keys},
                                         team__isnull=True)  # never a team's imported report's
    }
    new, updated, affected = {}, {}, {}  # key -> new row; pk -> changed row; key -> (row, record) to index
    for record in records:
        key = (record.source, record.id)
        if key in new:  # a feed may list the same id twice: store the first, compare the second with it
            _write(new, updated, affected, changed)
            new, updated, affected = {}, {}, {}
        row = existing.get(key)
        if record.withdrawn:
            if row is not None and row.withdrawn is None:
                row.withdrawn, row.import_run = _when(record.withdrawn), run
                updated[row.pk] = row
                affected.pop(key, None)
                run.withdrawn += 1
            else:
                run.unchanged += 1
            continue
        modified = _when(record.modified)
        if row is not None and row.withdrawn is None and row.modified >= modified:
            run.unchanged += 1
            continue
        data = record.to_dict()
        if row is not None and row.withdrawn is None and _same_content(row, data):
            run.unchanged += 1
            continue
        if row is None:
            row = new[key] = existing[key] = Advisory(source=record.source, osv_id=record.id)
            run.added += 1
        else:
            updated[row.pk] = row
            run.updated += 1
        row.modified, row.published, row.withdrawn = modified, _when(record.published), None
        row.aliases, row.summary, row.record, row.import_run = record.aliases, record.summary[:2000], data, run
        affected[key] = (row, record)
        changed.update((a.ecosystem, a.name) for a in record.affected)
    _write(new, updated, affected, changed)


def _write(new: dict, updated: dict, affected: dict, changed: Changed) -> None:
    """Write what `_store_batch` decided; the pairs the replaced entries named are changed too."""
    replaced = AffectedPackage.objects.filter(advisory_id__in=list(updated))
    changed.update(replaced.values_list("ecosystem", "name"))
    replaced.delete()
    Advisory.objects.bulk_create(list(new.values()), batch_size=BATCH)
    changed.advisories.update(updated)
    changed.advisories.update(row.pk for row in new.values())
    for row in updated.values():  # one UPDATE each: bulk_update's CASE expressions cost three times more here
        row.save(update_fields=UPDATED_FIELDS)
    rows = [entry for row, record in affected.values() for entry in _affected_rows(row, record)]
    AffectedPackage.objects.bulk_create(rows, batch_size=1000)


def vulndb_import(*, source: str, path: str, origin: str = "", **validators) -> tuple[ImportRun, Changed]:
    """Import one feed. Returns the run and the (ecosystem, name) pairs whose advisories changed
    (with the ids of those advisories, see `Changed`). `origin` names where the file came from
    when `path` is a download (vulndb_sync), which also passes the HTTP validators (`etag`,
    `last_modified`) to keep on the run."""
    run = ImportRun.objects.create(source=source, origin=origin or str(path), **validators)
    changed = Changed()
    rejections = []
    ecosystems = set()  # every ecosystem the feed names, changed or not: its data is now current
    try:
        items = iter(feed_read(source, path))
        while batch := list(islice(items, BATCH)):
            records = [item for item in batch if not isinstance(item, Rejection)]
            ecosystems.update(a.ecosystem for record in records for a in record.affected)
            for item in batch:
                if isinstance(item, Rejection):
                    run.rejected += 1
                    if len(rejections) < MAX_REJECTIONS_KEPT:
                        rejections.append(item.to_dict())
            batch_changed = Changed()
            with transaction.atomic():
                _store_batch(run, records, batch_changed)
                if batch_changed:  # owed a re-evaluation from the moment the records are: see ReevaluationDue
                    ReevaluationDue.objects.create(import_run=run, pairs=sorted(batch_changed),
                                                   advisories=sorted(batch_changed.advisories))
            changed.absorb(batch_changed)
    except (OSError, ValueError) as error:
        run.status, run.error = ImportRun.Status.FAILED, f"{type(error).__name__}: {error}"
    else:
        run.status = ImportRun.Status.DONE
    run.rejections, run.finished = rejections, timezone.now()
    run.save()
    if run.status == ImportRun.Status.DONE:  # a failed import may have stopped half-way: it makes nothing current
        ecosystems_imported(run=run, ecosystems=ecosystems)
    return run, changed


def database_version() -> int | None:
    """The latest successful import: verdicts record it so they can be called current or stale."""
    return ImportRun.objects.filter(status=ImportRun.Status.DONE).order_by("-pk").values_list("pk", flat=True).first()
