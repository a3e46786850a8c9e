"""vulndb_sync against a real HTTP server on loopback serving files the test writes: the first
sync imports and re-evaluates, an unchanged feed is skipped (304 on its ETag), a changed file is
imported again, and a server error or a refused connection fails that feed only, clearly."""
import hashlib
import io
import json
import socket
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command

from compliance.models import Advisory, EcosystemData, ImportRun
from portal.settings import envdata
from tests.compliance.vulndb.test_reevaluation import published, webhook  # noqa: F401  (fixtures)
from tests.compliance.vulndb.test_store import osv

pytestmark = pytest.mark.django_db
CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
DSA_LIST = """\
[02 Jan 2024] DSA-5999-1 openssl - security update
\t{CVE-2024-5999}
\t[bookworm] - openssl 3.0.11-1~deb12u2
"""
TRACKER = {"libdemo": {"CVE-2024-1000": {"releases": {"bookworm": {
    "status": "resolved", "fixed_version": "1.2-3+deb12u1", "urgency": "medium"}}}}}
SECDB = {"distroversion": "v3.19", "reponame": "main",
         "packages": [{"pkg": {"name": "musl", "secfixes": {"1.2.4-r3": ["CVE-2024-7777"]}}}]}


@pytest.fixture
def feed_server(tmp_path):
    """Serves tmp_path/files with a content ETag (If-None-Match -> 304); /broken answers 500,
    /slow waits 1.5 s first.
    Records each request's path and conditional header."""
    root = tmp_path / "files"
    root.mkdir()
    requests_seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests_seen.append((self.path, self.headers.get("If-None-Match")))
            if self.path == "/slow":
                time.sleep(1.5)
            if self.path == "/broken":
                self.send_error(500, "Internal Server Error")
                return
            file = root / self.path.lstrip("/")
            if not file.is_file():
                self.send_error(404)
                return
            data = file.read_bytes()
            etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", root, requests_seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def refused_url():
    """A loopback port nobody listens on: bind it, then close it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.json"


def osv_zip(*records) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buffer.getvalue()


def sync(settings, feeds, **options) -> str:
    settings.VULNDB_FEEDS = feeds
    out = io.StringIO()
    call_command("vulndb_sync", stdout=out, **options)
    return out.getvalue()


def test_it_imports_then_skips_an_unchanged_feed_then_imports_a_change(settings, feed_server, published, webhook):  # noqa: F811
    base, root, seen = feed_server
    (root / "debian.zip").write_bytes(osv_zip(osv("DEB-2024-0001", severity=CRITICAL)))
    feeds = [{"source": "osv", "url": f"{base}/debian.zip"}]

    feed_runs = ImportRun.objects.filter(origin__startswith=base)  # not the baseline data `published` imports
    out = sync(settings, feeds)
    run = feed_runs.get()
    assert (run.origin, run.status, run.added, run.etag != "") == (f"{base}/debian.zip", "done", 1, True)
    assert "osv " + f"{base}/debian.zip: imported: import {run.pk}" in out
    assert "1 turned non-compliant, 1 alerts sent" in out, "the re-evaluation that follows an import ran"
    assert not published.verdicts.order_by("-created").first().passed and webhook[1][0]["event"] == "image.noncompliant"

    out = sync(settings, feeds)
    assert "unchanged: not modified since the last import (HTTP 304); skipped" in out
    assert seen[-1] == ("/debian.zip", run.etag) and feed_runs.count() == 1
    assert EcosystemData.objects.get(ecosystem="Debian:12").imported_at > run.finished, "a 304 confirms the data current"

    (root / "debian.zip").write_bytes(osv_zip(osv("DEB-2024-0001", modified="2024-03-01T00:00:00Z", fixed=None,
                                                  severity=CRITICAL)))
    out = sync(settings, feeds)
    latest = ImportRun.objects.order_by("-pk").first()
    assert (latest.updated, latest.etag != run.etag) == (1, True) and "imported" in out
    assert Advisory.objects.get(osv_id="DEB-2024-0001").record["modified"] == "2024-03-01T00:00:00Z"


def test_a_failing_feed_is_reported_and_the_others_still_import(settings, feed_server, refused_url):
    base, root, _ = feed_server
    (root / "DSA.list").write_text(DSA_LIST)
    (root / "secdb").write_text(json.dumps(SECDB))  # no suffix: the source decides how it is read
    (root / "tracker.json").write_text(json.dumps(TRACKER))
    (root / "DLA.list").write_text(DSA_LIST.replace("DSA-5999-1", "DLA-3999-1").replace("bookworm", "bullseye"))
    feeds = [{"source": "osv", "url": f"{base}/broken"}, {"source": "debian-dsa", "url": f"{base}/DSA.list"},
             {"source": "osv", "url": refused_url}, {"source": "alpine-secdb", "url": f"{base}/secdb"},
             {"source": "debian-tracker", "url": f"{base}/tracker.json"}, {"source": "debian-dla", "url": f"{base}/DLA.list"}]
    settings.VULNDB_FEEDS = feeds
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("vulndb_sync", stdout=out)
    message = str(error.value)
    assert message.startswith("2 of 6 feeds failed")
    assert f"{base}/broken: 127.0.0.1:{base.rsplit(':', 1)[1]} answered HTTP 500 Internal Server Error" in message
    assert f"{refused_url}: cannot connect to 127.0.0.1" in message and "Connection refused" in message
    assert sorted(ImportRun.objects.values_list("source", "status", "added")) == [
        ("alpine-secdb", "done", 1), ("debian-dla", "done", 1), ("debian-dsa", "done", 1), ("debian-tracker", "done", 1)]
    assert Advisory.objects.filter(osv_id__in=["DSA-5999-1", "DLA-3999-1"]).count() == 2
    assert f"debian-tracker {base}/tracker.json: imported" in out.getvalue()


def test_a_server_that_stops_answering_times_out(settings, feed_server):
    base, root, _ = feed_server
    settings.VULNDB_FEED_READ_TIMEOUT = 0.5
    with pytest.raises(CommandError, match="sent nothing for 0.5 s; download abandoned"):
        sync(settings, [{"source": "osv", "url": f"{base}/slow"}])


def test_an_osv_archive_served_without_a_zip_suffix_is_still_read(settings, feed_server):
    base, root, _ = feed_server
    (root / "all").write_bytes(osv_zip(osv("DEB-2024-0002"), osv("DEB-2024-0003", name="zlib")))
    sync(settings, [{"source": "osv", "url": f"{base}/all"}])
    assert ImportRun.objects.get().added == 2


def test_it_stops_a_download_past_the_size_cap(settings, feed_server):
    base, root, _ = feed_server
    (root / "big.json").write_text(json.dumps(osv("DEB-2024-0004")))
    settings.VULNDB_FEED_MAX_BYTES = 100
    with pytest.raises(CommandError, match="more than the 100 allowed"):
        sync(settings, [{"source": "osv", "url": f"{base}/big.json"}])
    assert not ImportRun.objects.exists()


def test_rejected_records_are_named_by_the_feed_url(settings, feed_server):
    base, root, _ = feed_server
    (root / "mixed.zip").write_bytes(osv_zip(osv("DEB-2024-0006"), {"id": "BROKEN-1", "modified": "yesterday"}))
    out = sync(settings, [{"source": "osv", "url": f"{base}/mixed.zip"}])
    run = ImportRun.objects.get()
    assert (run.added, run.rejected) == (1, 1)
    assert run.rejections[0]["origin"] == f"{base}/mixed.zip!BROKEN-1.json"
    assert f"rejected {base}/mixed.zip!BROKEN-1.json" in out


def test_force_downloads_an_unchanged_feed_again(settings, feed_server):
    base, root, seen = feed_server
    (root / "one.json").write_text(json.dumps(osv("DEB-2024-0005")))
    feeds = [{"source": "osv", "url": f"{base}/one.json"}]
    sync(settings, feeds)
    sync(settings, feeds, force=True)
    assert seen[-1] == ("/one.json", None) and ImportRun.objects.count() == 2


@pytest.mark.parametrize("feeds, words", [
    (None, "No feeds configured: set VULNDB_FEEDS"),
    ({"source": "osv"}, "must be a list"),
    ([{"source": "nvd", "url": "https://example.test/x"}], "entry 1: source 'nvd' is not one of osv"),
    ([{"source": "osv", "url": "ftp://example.test/x"}], "entry 1: url 'ftp://example.test/x' is not an http(s) URL"),
    ([{"source": "osv", "url": "https://example.test/x", "token": "s"}], "only 'source' and 'url'"),
])
def test_it_explains_a_bad_configuration(settings, feeds, words):
    with pytest.raises(CommandError, match=words.replace("(", r"\(").replace(")", r"\)")):
        sync(settings, feeds)


def test_the_setting_reads_a_yaml_file_named_by_an_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "feeds.yaml"
    path.write_text("- source: osv\n  url: https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip\n")
    monkeypatch.setenv("VULNDB_FEEDS_FILE", str(path))
    assert envdata("VULNDB_FEEDS") == [{"source": "osv",
                                        "url": "https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip"}]
    path.write_text("- source: [osv\n")
    with pytest.raises(ValueError, match="VULNDB_FEEDS is neither JSON nor YAML"):
        envdata("VULNDB_FEEDS")
