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

from compliance.models import Advisory, AffectedPackage, ImportRun
from compliance.vulndb.advisory import Rejection
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


def _store_batch(run: ImportRun, records: list, changed: set) -> None:
    """Upsert one batch in one transaction: few queries per batch, not per record."""
    keys = {(r.source, r.id) for r in records}
    existing = {
        (a.source, a.osv_id): a
        for a in Advisory.objects.filter(source__in={k[0] for k in keys}, osv_id__in={k[1] for k in keys})
    }
    replace, affected = [], []
    for record in records:
        row = existing.get((record.source, record.id))
        modified = _when(record.modified)
        if record.withdrawn:
            if row is not None and row.withdrawn is None:
                changed.update(row.affected.values_list("ecosystem", "name"))
                row.withdrawn, row.import_run = _when(record.withdrawn), run
                row.save(update_fields=["withdrawn", "import_run"])
                row.affected.all().delete()
                run.withdrawn += 1
            else:
                run.unchanged += 1
            continue
        if row is not None and row.modified >= modified and row.withdrawn is None:
            run.unchanged += 1
            continue
        if row is None:
            row = Advisory(source=record.source, osv_id=record.id)
            run.added += 1
        else:
            changed.update(row.affected.values_list("ecosystem", "name"))
            replace.append(row.pk)
            run.updated += 1
        row.modified, row.published, row.withdrawn = modified, _when(record.published), None
        row.aliases, row.summary, row.record, row.import_run = record.aliases, record.summary[:2000], record.to_dict(), run
        row.save()
        existing[(record.source, record.id)] = row  # a feed may list the same id twice
        affected += _affected_rows(row, record)
        changed.update((a.ecosystem, a.name) for a in record.affected)
    AffectedPackage.objects.filter(advisory_id__in=replace).delete()
    AffectedPackage.objects.bulk_create(affected, batch_size=1000)


def vulndb_import(*, source: str, path: str) -> tuple[ImportRun, set[tuple[str, str]]]:
    """Import one feed. Returns the run and the (ecosystem, name) pairs whose advisories changed."""
    run = ImportRun.objects.create(source=source, origin=str(path))
    changed: set[tuple[str, str]] = set()
    rejections = []
    try:
        items = iter(feed_read(source, path))
        while batch := list(islice(items, BATCH)):
            records = [item for item in batch if not isinstance(item, Rejection)]
            for item in batch:
                if isinstance(item, Rejection):
                    run.rejected += 1
                    if len(rejections) < MAX_REJECTIONS_KEPT:
                        rejections.append(item.to_dict())
            with transaction.atomic():
                _store_batch(run, records, changed)
    except (OSError, ValueError) as error:
        run.status, run.error = ImportRun.Status.FAILED, f"{type(error).__name__}: {error}"
    else:
        run.status = ImportRun.Status.DONE
    run.rejections, run.finished = rejections, timezone.now()
    run.save()
    return run, changed


def database_version() -> int | None:
    """The latest successful import: verdicts record it so they can be called current or stale."""
    return ImportRun.objects.filter(status=ImportRun.Status.DONE).order_by("-pk").values_list("pk", flat=True).first()
