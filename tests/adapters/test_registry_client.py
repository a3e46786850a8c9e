"""RegistryClient against a scripted loopback server: auth, fallbacks and error messages
that the real (auth-less, healthy) registry cannot produce on demand."""
import base64
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.registry import MANIFEST_LIST, MANIFEST_V2, RegistryClient, RegistryError


class FakeRegistry:
    """Answers with `routes[(method, path)](request) -> (status, headers, body)`, else with
    `fallback(request)` when set, else 404; records requests."""

    def __init__(self):
        self.routes = {}
        self.fallback = None
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                request = {"method": self.command, "path": url.path, "query": parse_qs(url.query),
                           "headers": dict(self.headers), "body": self.rfile.read(length)}
                fake.requests.append(request)
                route = fake.routes.get((self.command, url.path)) or fake.fallback
                status, headers, body = route(request) if route else (404, {}, b'{"errors":[]}')
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A short poll interval keeps shutdown() (once per test) from costing half a second.
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def paths(self):
        return [(r["method"], r["path"]) for r in self.requests]


@pytest.fixture
def fake():
    server = FakeRegistry()
    yield server
    server.server.shutdown()
    server.server.server_close()


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def tags_route(request):
    return 200, {"Content-Type": "application/json"}, b'{"name":"app","tags":["1.0"]}'


def test_it_follows_a_bearer_challenge_and_reuses_the_token(fake):
    def protected(request):
        if request["headers"].get("Authorization") == "Bearer tok-1":
            return tags_route(request)
        challenge = f'Bearer realm="{fake.url}/token",service="fake",scope="repository:app:pull"'
        return 401, {"WWW-Authenticate": challenge}, b'{"errors":[{"code":"UNAUTHORIZED"}]}'

    def token(request):
        assert request["headers"]["Authorization"] == basic("ci", "s3cret")
        assert request["query"] == {"service": ["fake"], "scope": ["repository:app:pull"]}
        return 200, {"Content-Type": "application/json"}, b'{"token":"tok-1"}'

    fake.routes = {("GET", "/v2/app/tags/list"): protected, ("GET", "/token"): token}
    client = RegistryClient(fake.url, username="ci", password="s3cret")
    assert client.tags("app") == ["1.0"]
    assert client.tags("app") == ["1.0"]
    assert fake.paths().count(("GET", "/token")) == 1


def test_it_reports_a_refused_token(fake):
    challenge = f'Bearer realm="{fake.url}/token",service="fake"'
    fake.routes = {("GET", "/v2/app/tags/list"): lambda r: (401, {"WWW-Authenticate": challenge}, b"{}"),
                   ("GET", "/token"): lambda r: (401, {}, b"no")}
    with pytest.raises(RegistryError, match=r"token service 127\.0\.0\.1:\d+ refused access \(HTTP 401\)"):
        RegistryClient(fake.url).tags("app")


def test_it_sends_basic_auth_when_the_registry_asks_for_nothing_else(fake):
    fake.routes = {("GET", "/v2/app/tags/list"): tags_route}
    RegistryClient(fake.url, username="ci", password="pw").tags("app")
    assert fake.requests[0]["headers"]["Authorization"] == basic("ci", "pw")


def test_it_shows_the_registry_error_message(fake):
    body = b'{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"x"}]}'
    fake.routes = {("PUT", "/v2/app/manifests/1.0"): lambda r: (400, {}, body)}
    with pytest.raises(RegistryError) as error:
        RegistryClient(fake.url).put_manifest("app", "1.0", {"schemaVersion": 2}, MANIFEST_V2)
    assert str(error.value) == (f"registry {fake.url[7:]} failed on manifest app:1.0 (HTTP 400): "
                                "blob unknown to registry")
    assert (error.value.status, error.value.code) == (400, "MANIFEST_BLOB_UNKNOWN")


def test_it_says_which_registry_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nobody listens there
    with pytest.raises(RegistryError, match=rf"^registry 127\.0\.0\.1:{port} unreachable: .*refused"):
        RegistryClient(f"http://127.0.0.1:{port}").manifest("quarantine/x", "1")


def test_it_says_when_the_registry_did_not_answer_in_time(fake):
    import time

    fake.routes = {("GET", "/v2/app/manifests/1.0"): lambda r: (time.sleep(1.0), (200, {}, b"{}"))[1]}
    with pytest.raises(RegistryError, match=r"^registry .* timed out after 0.2s on manifest app:1.0$"):
        RegistryClient(fake.url, timeout=0.2).manifest("app", "1.0")


def test_the_next_page_of_tags_is_followed_and_a_redirect_too(fake):
    fake.routes = {
        ("GET", "/v2/app/tags/list"): lambda r: (200, {"Link": '</v2/app/tags/list?last=a&n=1>; rel="next"'},
                                                  b'{"tags":["a"]}') if not r["query"] else (
            307, {"Location": "/v2/elsewhere/tags/list"}, b""),
        ("GET", "/v2/elsewhere/tags/list"): lambda r: (200, {}, b'{"tags":["b"]}'),
    }
    assert RegistryClient(fake.url).tags("app") == ["a", "b"]


def test_it_rejects_a_corrupt_blob_whole_or_streamed(fake):
    digest = digest_of(b"expected")
    fake.routes = {("GET", f"/v2/app/blobs/{digest}"): lambda r: (200, {}, b"tampered")}
    client = RegistryClient(fake.url)
    with pytest.raises(RegistryError, match=f"blob app@{digest} is corrupt"):
        client.blob("app", digest)
    with client.open_blob("app", digest) as stream:
        assert stream.read(3) == b"tam"
        with pytest.raises(RegistryError, match="is corrupt"):
            stream.verify()


def test_it_verifies_a_streamed_blob_that_was_only_partly_read(fake):
    data = b"layer bytes" * 1000
    fake.routes = {("GET", f"/v2/app/blobs/{digest_of(data)}"): lambda r: (200, {}, data)}
    with RegistryClient(fake.url).open_blob("app", digest_of(data)) as stream:
        stream.read(10)
        stream.verify()


def test_it_rejects_a_manifest_that_does_not_match_the_requested_digest(fake):
    fake.routes = {("GET", "/v2/app/manifests/sha256:" + "a" * 64):
                   lambda r: (200, {"Content-Type": MANIFEST_V2}, b'{"schemaVersion":2}')}
    with pytest.raises(RegistryError, match="is corrupt"):
        RegistryClient(fake.url).manifest("app", "sha256:" + "a" * 64)


def test_it_downloads_and_uploads_when_a_mount_is_refused(fake):
    data = b"config"
    digest = digest_of(data)
    fake.routes = {
        ("POST", "/v2/dst/blobs/uploads/"): lambda r: (202, {"Location": "/v2/dst/blobs/uploads/u1?_state=s"}, b""),
        ("GET", f"/v2/src/blobs/{digest}"): lambda r: (200, {}, data),
        ("PUT", "/v2/dst/blobs/uploads/u1"): lambda r: (201, {}, b""),
    }
    assert RegistryClient(fake.url).mount_blob("dst", digest, "src") is False
    post, _, put = fake.requests
    assert post["query"] == {"mount": [digest], "from": ["src"]}
    assert put["query"] == {"_state": ["s"], "digest": [digest]} and put["body"] == data


def test_a_refused_mount_uploads_the_bytes_the_caller_has_without_downloading_them(fake):
    data = b"{}"
    digest = digest_of(data)
    fake.routes = {
        ("POST", "/v2/dst/blobs/uploads/"): lambda r: (202, {"Location": "/v2/dst/blobs/uploads/u1?_state=s"}, b""),
        ("PUT", "/v2/dst/blobs/uploads/u1"): lambda r: (201, {}, b""),
    }
    assert RegistryClient(fake.url).mount_blob("dst", digest, "gone", data=data) is False
    assert [r["method"] for r in fake.requests] == ["POST", "PUT"] and fake.requests[1]["body"] == data
    with pytest.raises(ValueError, match="not that blob"):
        RegistryClient(fake.url).mount_blob("dst", digest, "gone", data=b"other")


def test_it_names_the_platforms_of_a_list_without_linux_amd64(fake):
    index = {"schemaVersion": 2, "mediaType": MANIFEST_LIST, "manifests": [
        {"digest": "sha256:" + "b" * 64, "platform": {"os": "linux", "architecture": "arm64"}}]}
    fake.routes = {("GET", "/v2/app/manifests/1.0"):
                   lambda r: (200, {"Content-Type": MANIFEST_LIST}, json.dumps(index).encode())}
    with pytest.raises(RegistryError, match=r"manifest app:1.0 has no linux/amd64 image \(it has: linux/arm64\)"):
        RegistryClient(fake.url).manifest("app", "1.0")


@pytest.mark.parametrize("repository, reference", [
    ("quarantine/a/../../published/b/x", "latest"), ("published/b/x", "../latest"), ("published//x", "1"),
    ("published/B/x", "1"), ("published/b/x?n=1", "1"), ("published/b/x", "sha256:zz")])
def test_it_sends_nothing_for_a_path_that_could_leave_its_repository(fake, repository, reference):
    client = RegistryClient(fake.url)
    for call in (lambda: client.manifest_bytes(repository, reference), lambda: client.put_manifest(repository, reference, b"{}", MANIFEST_V2),
                 lambda: client.copy_image("published/a/x", "1", repository, reference)):
        with pytest.raises(RegistryError, match="refused to address the registry"):
            call()
    assert [p for p in fake.paths() if ".." in p[1] or "//" in p[1]] == []


def test_it_mounts_neither_into_nor_from_a_path_that_could_leave_its_repository(fake):
    client = RegistryClient(fake.url)
    digest, hostile = "sha256:" + "a" * 64, "quarantine/a/../../published/b/x"
    for into, source in [(hostile, "published/a/x"), ("published/a/x", hostile)]:
        with pytest.raises(RegistryError, match="refused to address the registry"):
            client.mount_blob(into, digest, source)
    assert fake.requests == []


def scoped_route(fake, repository):
    """tags/list of `repository`, answered only with a token whose scope names it."""
    def route(request):
        if repository in request["headers"].get("Authorization", ""):
            return tags_route(request)
        challenge = f'Bearer realm="{fake.url}/token",service="fake",scope="repository:{repository}:pull"'
        return 401, {"WWW-Authenticate": challenge}, b"{}"
    return route


def test_one_token_covers_every_repository_the_client_worked_on(fake):
    """A copy reads quarantine and writes published: switching back and forth must not cost a 401
    and a new token at every switch."""
    fake.routes = {("GET", "/v2/quarantine/a/tags/list"): scoped_route(fake, "quarantine/a"),
                   ("GET", "/v2/published/a/tags/list"): scoped_route(fake, "published/a")}
    minted = []
    client = RegistryClient(fake.url, token_source=lambda scope: minted.append(scope) or f"token for {scope}")
    for repository in ("quarantine/a", "published/a", "quarantine/a", "published/a"):
        assert client.tags(repository) == ["1.0"]
    assert minted == ["repository:quarantine/a:pull", "repository:quarantine/a:pull repository:published/a:pull"]
    assert [r["method"] for r in fake.requests].count("GET") == 6  # two challenged, four answered


def test_authorize_mints_the_token_before_the_first_request(fake):
    fake.routes = {("GET", "/v2/published/a/tags/list"): scoped_route(fake, "published/a")}
    minted = []
    client = RegistryClient(fake.url, token_source=lambda scope: minted.append(scope) or f"token for {scope}")
    client.authorize("repository:published/a:pull,push", "repository:quarantine/a:pull")
    assert client.tags("published/a") == ["1.0"]
    assert minted == ["repository:published/a:pull,push repository:quarantine/a:pull"]
    assert len(fake.requests) == 1  # no challenge
