"""Sync the vulnerability database from the feeds listed in settings.VULNDB_FEEDS (sites with
internet; air-gapped sites keep using `vulndb_import` on files they carry in).

Each feed is downloaded (compliance/vulndb/download.py) and imported exactly as `vulndb_import`
does, as an ImportRun whose origin is the URL and which keeps the server's ETag/Last-Modified;
the next sync sends them back, and a feed the server says is unchanged (304) is skipped. A feed
that fails is reported and the others go on. The caller re-evaluates once for what every feed
left owed (ReevaluationDue), so an image gets one new verdict per sync, not one per feed.
"""
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings

from compliance.models import ImportRun
from compliance.vulndb.coverage import ecosystems_confirmed
from compliance.vulndb.download import FeedError, feed_download
from compliance.vulndb.store import vulndb_import

SOURCES = ("osv", "debian-tracker", "debian-dsa", "debian-dla", "alpine-secdb")


@dataclass(frozen=True)
class Feed:
    source: str
    url: str


@dataclass
class FeedOutcome:
    feed: Feed
    status: str  # "imported", "unchanged" or "failed"
    message: str
    run: ImportRun | None = None


def feeds_from_setting(value) -> list[Feed]:
    """The configured feeds, or a ValueError that says which entry is wrong and how."""
    if not value:
        raise ValueError("No feeds configured: set VULNDB_FEEDS to a JSON or YAML list of {source, url}, or "
                         "VULNDB_FEEDS_FILE to a file holding one. Sources: " + ", ".join(SOURCES))
    if not isinstance(value, list):
        raise ValueError("VULNDB_FEEDS must be a list of {source, url} entries")
    feeds = []
    for number, entry in enumerate(value, start=1):
        if not isinstance(entry, dict) or set(entry) - {"source", "url"}:
            raise ValueError(f"VULNDB_FEEDS entry {number} must be a mapping with only 'source' and 'url': {entry!r}")
        source, url = entry.get("source"), entry.get("url")
        if source not in SOURCES:
            raise ValueError(f"VULNDB_FEEDS entry {number}: source {source!r} is not one of {', '.join(SOURCES)}")
        if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
            raise ValueError(f"VULNDB_FEEDS entry {number}: url {url!r} is not an http(s) URL")
        feeds.append(Feed(source, url))
    return feeds


def _validators(feed: Feed) -> dict:
    """ETag / Last-Modified of the last successful import of this feed, if it kept any."""
    run = (ImportRun.objects.filter(source=feed.source, origin=feed.url, status=ImportRun.Status.DONE)
           .exclude(etag="", last_modified="").order_by("-pk").first())
    return {"etag": run.etag, "last_modified": run.last_modified} if run else {}


def feed_sync(feed: Feed, *, force: bool = False) -> FeedOutcome:
    """Download and import one feed; never raises for a feed's own failure."""
    validators = {} if force else _validators(feed)
    with tempfile.TemporaryDirectory(prefix="vulndb-sync-") as folder:
        try:
            download = feed_download(feed.url, source=feed.source, folder=Path(folder), **validators,
                                     max_bytes=settings.VULNDB_FEED_MAX_BYTES,
                                     timeout=(settings.VULNDB_FEED_CONNECT_TIMEOUT, settings.VULNDB_FEED_READ_TIMEOUT))
        except FeedError as error:
            return FeedOutcome(feed, "failed", str(error))
        if download.path is None:
            # The server says our data is what it has today: as current as a fresh import of it.
            confirmed = ecosystems_confirmed(source=feed.source, origin=feed.url)
            return FeedOutcome(feed, "unchanged", f"not modified since the last import (HTTP 304); skipped, "
                                                  f"its data ({confirmed} ecosystem{'s' if confirmed != 1 else ''}) confirmed current")
        run, _ = vulndb_import(source=feed.source, path=str(download.path), origin=feed.url,
                               etag=download.etag[:300], last_modified=download.last_modified[:100])
        _name_rejections_by_url(run, str(download.path), feed.url)
    if run.status != ImportRun.Status.DONE:
        return FeedOutcome(feed, "failed", f"import {run.pk} failed: {run.error}", run)
    return FeedOutcome(feed, "imported", f"import {run.pk}: {download.size:,} bytes; added {run.added}, updated "
                                         f"{run.updated}, unchanged {run.unchanged}, withdrawn {run.withdrawn}, "
                                         f"rejected {run.rejected}", run)


def _name_rejections_by_url(run: ImportRun, path: str, url: str) -> None:
    """Rejections name where a record was; the temporary file is gone, the URL is not."""
    if any(r.get("origin", "").startswith(path) for r in run.rejections):
        for rejection in run.rejections:
            if rejection.get("origin", "").startswith(path):
                rejection["origin"] = url + rejection["origin"][len(path):]
        run.save(update_fields=["rejections"])


def vulndb_sync(feeds: list[Feed], *, force: bool = False) -> list[FeedOutcome]:
    return [feed_sync(feed, force=force) for feed in feeds]
