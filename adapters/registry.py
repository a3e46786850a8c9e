"""A small client for the Docker Distribution HTTP API v2 (registry 2.8).

urllib3 for the registry's own requests (`requests` costs a millisecond more of CPU per request,
and a publication sends about forty) and `requests` for the rare token service call; no Django
imports, so workers and tests use it directly. Every failure becomes a `RegistryError` whose
message is fit to show to a user, because callers (build logs, publication) display it as is.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from typing import Any, Callable
from urllib.parse import urlencode, urljoin, urlsplit

import requests
import urllib3
from requests.utils import parse_header_links

from adapters.registry_names import InvalidName, reference_check, repository_check

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = (MANIFEST_LIST, OCI_INDEX)
# Without an explicit Accept the registry converts to schema1 and answers a different digest.
MANIFEST_ACCEPT = ", ".join((MANIFEST_V2, OCI_MANIFEST, MANIFEST_LIST, OCI_INDEX))


_pool_manager: urllib3.PoolManager | None = None
_pool_manager_lock = threading.Lock()


def _connections() -> urllib3.PoolManager:
    """The process's kept registry connections, shared by every client: a client is made per piece of
    work (a publication, a scan), and opening its connections again each time cost the sockets and
    their setup. Thread-safe; as many per host as the threads that send side by side
    (registry_batch.WORKERS) and a few more for other work of the process. Redirects followed (a
    registry on object storage sends blob reads elsewhere; urllib3 drops the Authorization header
    when the host changes), nothing retried: callers decide."""
    global _pool_manager
    with _pool_manager_lock:
        if _pool_manager is None:
            _pool_manager = urllib3.PoolManager(maxsize=16, retries=urllib3.Retry(
                total=None, connect=0, read=False, status=0, other=0, redirect=5))
        return _pool_manager


def _forget_connections_in_child() -> None:
    """A forked worker opens its own: sockets shared with the parent would mix their answers."""
    global _pool_manager, _pool_manager_lock
    _pool_manager, _pool_manager_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_connections_in_child)


class RegistryError(Exception):
    """A registry call failed; `str(error)` is a message meant for users."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


def sha256_digest(data: bytes) -> str:
    """Content address of `data` as the registry writes it."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _ref(repository: str, reference: str) -> str:
    return f"{repository}@{reference}" if ":" in reference else f"{repository}:{reference}"


def _path(repository: str, tail: str, reference: str | None = None) -> str:
    """`/v2/<repository>/<tail>[/<reference>]`, refusing what could walk out of the repository
    (`..`, a second slash, a query): the registry resolves such paths, so the check is here too,
    behind the callers' own name checks."""
    try:
        repository_check(repository)
        if reference is not None:
            reference_check(reference)
    except InvalidName as error:
        raise RegistryError(f"refused to address the registry: {error}") from None
    return f"/v2/{repository}/{tail}" + (f"/{reference}" if reference is not None else "")


class Response:
    """A registry's answer, as the client reads it: status, headers (case-insensitive), the body
    read at once (`content`) or, for a streamed blob, left in `raw` for BlobStream."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, *, streamed: bool = False):
        self.raw, self.status_code, self.headers = raw, raw.status, raw.headers
        self._content: bytes | None = None if streamed else raw.data

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = self.raw.read()
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The Link header by rel (the registry's next page of tags)."""
        header = self.headers.get("Link", "")
        return {link.get("rel") or link["url"]: link for link in parse_header_links(header)} if header else {}

    def close(self) -> None:
        """A streamed body not read to its end cannot leave its connection for reuse: drop it."""
        if self._content is None:
            self.raw.close()
        self.raw.release_conn()


class BlobStream:
    """A blob being downloaded, hashed as it is read.

    Tar readers stop at the end-of-archive marker, before the end of the blob, so the
    check cannot happen on EOF: call `verify()` when done; it drains the rest and raises
    `RegistryError` on a digest mismatch. Without `verify()` nothing is checked.
    """

    def __init__(self, response: Response, what: str, digest: str, host: str):
        self._response, self._what, self._digest, self._host = response, what, digest, host
        self._raw = response.raw
        self._raw.decode_content = False  # hash the bytes the registry stores, not a decoding
        self._hash = hashlib.sha256()

    def read(self, size: int | None = -1) -> bytes:
        try:
            data = self._raw.read(None if size is None or size < 0 else size)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RegistryError(f"registry {self._host}: connection lost reading {self._what}: {exc}") from exc
        self._hash.update(data)
        return data

    def verify(self) -> None:
        """Read what is left and check the whole blob against its digest."""
        while self.read(1 << 20):
            pass
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._digest:
            raise RegistryError(f"{self._what} is corrupt: its content hashes to {actual}")

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RegistryClient:
    """Talks to one registry; `base_url` like `http://127.0.0.1:5000`.

    Auth: basic when `username` is given; bearer tokens are fetched when the registry
    answers 401 with a `WWW-Authenticate: Bearer realm=...` challenge (the credentials,
    if any, then go to the token service instead). With `token_source`, a callable taking the
    challenge's scope ("repository:a:pull repository:b:pull,push"), the token comes from it
    instead: the portal mints its own tokens and never calls its own token endpoint.
    """

    def __init__(self, base_url: str, *, username: str | None = None, password: str | None = None,
                 timeout: float = 60, token_source: Callable[[str], str] | None = None):
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc or self.base_url
        self.timeout = timeout
        self._credentials = (username, password or "") if username else None
        self._token_source = token_source
        self._token: str | None = None
        self._scopes: dict[tuple[str, str], list[str]] = {}  # (type, name) -> actions the token holds
        self._scopes_lock = threading.Lock()
        self._http = _connections()
        self._token_session: requests.Session | None = None  # the token service, rarely called

    def ping(self) -> None:
        """Raise RegistryError unless the registry answers its API base (for health checks)."""
        self._request("GET", "/v2/", "API check")

    # -- manifests ---------------------------------------------------------------------
    def manifest_bytes(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """Exact manifest bytes, media type and digest (of those bytes); no index resolution."""
        what = f"manifest {_ref(repository, reference)}"
        resp = self._request("GET", _path(repository, "manifests", reference), what,
                             headers={"Accept": MANIFEST_ACCEPT})
        return self._manifest_read(resp, reference, what)

    def manifest_bytes_or_none(self, repository: str, reference: str) -> tuple[bytes, str, str] | None:
        """manifest_bytes in one GET, None when there is no such manifest (no HEAD first)."""
        what = f"manifest {_ref(repository, reference)}"
        resp = self._request("GET", _path(repository, "manifests", reference), what,
                             headers={"Accept": MANIFEST_ACCEPT}, ok=(200, 404))
        return None if resp.status_code == 404 else self._manifest_read(resp, reference, what)

    @staticmethod
    def _manifest_read(resp: Response, reference: str, what: str) -> tuple[bytes, str, str]:
        body = resp.content
        digest = sha256_digest(body)
        claimed = resp.headers.get("Docker-Content-Digest", digest)
        if claimed != digest or (reference.startswith("sha256:") and reference != digest):
            raise RegistryError(f"{what} is corrupt: its content hashes to {digest}")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in (MANIFEST_V2, OCI_MANIFEST, *INDEX_TYPES):
            media_type = _json(body, what).get("mediaType", media_type)
        return body, media_type, digest

    def manifest(self, repository: str, reference: str) -> tuple[dict[str, Any], str]:
        """Parsed image manifest and its digest. A manifest list / OCI index is resolved to
        its linux/amd64 entry, and then the digest returned is that entry's, not the list's."""
        what = f"manifest {_ref(repository, reference)}"
        body, media_type, digest = self.manifest_bytes(repository, reference)
        doc = _json(body, what)
        if media_type in INDEX_TYPES:
            child = _pick_linux_amd64(doc, what)
            body, _, digest = self.manifest_bytes(repository, child)
            doc = _json(body, what)
        return doc, digest

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """Digest of a manifest (as stored: a list stays a list), or None when absent."""
        resp = self._request("HEAD", _path(repository, "manifests", reference),
                             f"manifest {_ref(repository, reference)}",
                             headers={"Accept": MANIFEST_ACCEPT}, ok=(200, 404))
        if resp.status_code == 404:
            return None
        return resp.headers.get("Docker-Content-Digest") or self.manifest_bytes(repository, reference)[2]

    def put_manifest(self, repository: str, reference: str, manifest: dict[str, Any] | bytes,
                     media_type: str) -> str:
        """Store a manifest; bytes are sent untouched so the digest is preserved."""
        body = manifest if isinstance(manifest, bytes) else json.dumps(manifest, indent=3).encode()
        what = f"manifest {_ref(repository, reference)}"
        resp = self._request("PUT", _path(repository, "manifests", reference), what,
                             data=body, headers={"Content-Type": media_type}, ok=(201,))
        digest = sha256_digest(body)
        if resp.headers.get("Docker-Content-Digest", digest) != digest:
            raise RegistryError(f"registry {self.host} stored {what} under an unexpected digest "
                                f"{resp.headers['Docker-Content-Digest']} (sent {digest})")
        return digest

    def manifest_delete(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest (the registry needs `storage.delete.enabled`); False when it
        was already gone. Tags pointing at it go with it."""
        if not digest.startswith("sha256:"):
            raise RegistryError(f"refused to delete {_ref(repository, digest)}: only a digest names one manifest")
        resp = self._request("DELETE", _path(repository, "manifests", digest), f"manifest {_ref(repository, digest)}",
                             ok=(202, 404))
        return resp.status_code == 202

    def referrers(self, repository: str, digest: str) -> dict[str, Any] | None:
        """The OCI 1.1 referrers index of `digest`, or None when the registry has no referrers API
        (404, or an answer that is not an index): callers then read the referrers tag instead."""
        what = f"referrers of {repository}@{digest}"
        resp = self._request("GET", _path(repository, "referrers", digest), what, headers={"Accept": OCI_INDEX},
                             ok=(200, 404))
        if resp.status_code == 404 or not resp.headers.get("Content-Type", "").startswith(OCI_INDEX):
            return None
        return _json(resp.content, what)

    # -- blobs -------------------------------------------------------------------------
    def blob(self, repository: str, digest: str) -> bytes:
        """Whole blob in memory, checked against its digest (for configs and small layers)."""
        what = f"blob {repository}@{digest}"
        data = self._request("GET", _path(repository, "blobs", digest), what).content
        if sha256_digest(data) != digest:
            raise RegistryError(f"{what} is corrupt: its content hashes to {sha256_digest(data)}")
        return data

    def open_blob(self, repository: str, digest: str) -> BlobStream:
        """Streaming blob for big layers; call `verify()` on it after reading (see BlobStream)."""
        what = f"blob {repository}@{digest}"
        resp = self._request("GET", _path(repository, "blobs", digest), what, stream=True)
        return BlobStream(resp, what, digest, self.host)

    def blob_exists(self, repository: str, digest: str) -> bool:
        """Whether `repository` can serve the blob (a mount or upload made it visible there)."""
        resp = self._request("HEAD", _path(repository, "blobs", digest),
                             f"blob {repository}@{digest}", ok=(200, 404))
        return resp.status_code == 200

    def upload_blob(self, repository: str, data: bytes, *, new: bool = False) -> str:
        """Monolithic upload (POST then PUT ?digest=); skipped when the blob is already there.
        `new`: content that cannot be there yet (a fresh signature), so no HEAD asks first."""
        digest = sha256_digest(data)
        if new or not self.blob_exists(repository, digest):
            resp = self._request("POST", _path(repository, "blobs/uploads/"),
                                 f"upload to {repository}", ok=(202,))
            self._finish_upload(resp, repository, data, digest)
        return digest

    def mount_blob(self, repository: str, digest: str, from_repository: str, *, data: bytes | None = None) -> bool:
        """Cross-repository mount; True when mounted (201). On 202 the registry opened an
        upload session instead: the blob (`data` when the caller has its bytes, else downloaded
        from the source) is uploaded into it, and False returned."""
        if data is not None and sha256_digest(data) != digest:
            raise ValueError(f"the bytes given for {digest} are not that blob")
        resp = self._mount_request(repository, digest, from_repository)
        if resp.status_code == 201:
            return True
        self._finish_upload(resp, repository, self.blob(from_repository, digest) if data is None else data, digest)
        return False

    def mount_blob_if_allowed(self, repository: str, digest: str, from_repository: str) -> bool:
        """Cross-repository mount and nothing else: True when mounted; False when the registry
        declined (no such blob there, or no pull right on it), whose upload session is then cancelled
        rather than filled."""
        resp = self._mount_request(repository, digest, from_repository)
        if resp.status_code == 201:
            return True
        self._request("DELETE", urljoin(self.base_url + "/", resp.headers["Location"]), f"cancelled upload to {repository}",
                      ok=(204, 404))
        return False

    def _mount_request(self, repository: str, digest: str, from_repository: str) -> Response:
        """POST ?mount=&from=: 201 mounted, 202 an upload session opened instead."""
        _path(from_repository, "blobs")  # the source is checked like any other path
        return self._request("POST", _path(repository, "blobs/uploads/"),
                             f"mount of {digest} from {from_repository} into {repository}",
                             params={"mount": digest, "from": from_repository}, ok=(201, 202))

    def _finish_upload(self, started: Response, repository: str, data: bytes, digest: str) -> None:
        location = urljoin(self.base_url + "/", started.headers["Location"])
        self._request("PUT", location, f"upload of blob {repository}@{digest}", params={"digest": digest},
                      data=data, headers={"Content-Type": "application/octet-stream"}, ok=(201,))

    # -- whole images ------------------------------------------------------------------
    def copy_image(self, src_repository: str, reference: str, dst_repository: str, dst_tag: str) -> str:
        """Copy an image (or a whole list) by mounting its blobs and putting the SAME
        manifest bytes under `dst_tag`; returns the digest, equal to the source's."""
        return self.copy_image_manifest(src_repository, reference, dst_repository, dst_tag)[2]

    def copy_image_manifest(self, src_repository: str, reference: str, dst_repository: str, dst_tag: str, *,
                            source: tuple[bytes, str, str] | None = None) -> tuple[bytes, str, str]:
        """copy_image, returning the manifest it copied (bytes, media type, digest) for callers
        that write more about it (a tag, a referrer) without reading it again. `source`: that
        manifest as manifest_bytes(src_repository, reference) answered it, when the caller read it."""
        _path(dst_repository, "manifests", dst_tag)  # refused before anything is read or written
        body, media_type, digest = source or self.manifest_bytes(src_repository, reference)
        doc = _json(body, f"manifest {_ref(src_repository, reference)}")
        if media_type in INDEX_TYPES:
            for child in doc.get("manifests", []):
                self.copy_image(src_repository, child["digest"], dst_repository, child["digest"])
        else:
            for blob in [doc["config"], *doc.get("layers", [])]:
                if blob.get("urls"):
                    continue  # foreign layer: served from its URLs, never stored in a registry
                # a mount is one request whether or not the blob is there yet: no HEAD first
                self.mount_blob(dst_repository, blob["digest"], src_repository)
        copied = self.put_manifest(dst_repository, dst_tag, body, media_type)
        if copied != digest:  # cannot happen with untouched bytes; guard the promise anyway
            raise RegistryError(f"copy of {_ref(src_repository, reference)} changed its digest")
        return body, media_type, copied

    def tags(self, repository: str) -> list[str]:
        """All tags of a repository ([] when the repository does not exist), following pages."""
        url: str | None = _path(repository, "tags/list")
        found: list[str] = []
        while url:
            resp = self._request("GET", url, f"tags of {repository}", ok=(200, 404))
            if resp.status_code == 404:
                return []
            found.extend(resp.json().get("tags") or [])
            nxt = resp.links.get("next", {}).get("url")
            url = urljoin(self.base_url + "/", nxt) if nxt else None
        return found

    def close(self) -> None:
        """The token service's session; registry connections are the process's, kept for the next client."""
        if self._token_session is not None:
            self._token_session.close()

    # -- HTTP plumbing -----------------------------------------------------------------
    def _request(self, method: str, path: str, what: str, *, ok: tuple[int, ...] = (200,),
                 headers: dict[str, str] | None = None, **kwargs: Any) -> Response:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        for attempt in (1, 2):
            resp = self._send(method, url, what, {**(headers or {}), **self._auth_header()}, kwargs)
            challenge = resp.headers.get("WWW-Authenticate", "")
            if resp.status_code == 401 and attempt == 1 and challenge.lower().startswith("bearer "):
                resp.close()
                self._token = self._fetch_token(challenge)
                continue
            break
        if resp.status_code not in ok:
            raise self._error(resp, what)
        return resp

    def _send(self, method: str, url: str, what: str, headers: dict[str, str], kwargs: dict[str, Any]) -> Response:
        """kwargs: `params` (added to the URL's own query), `data` (the body), `stream`."""
        params, data, stream = kwargs.get("params"), kwargs.get("data"), kwargs.get("stream", False)
        if params:
            url += ("&" if urlsplit(url).query else "?") + urlencode(params, doseq=True)
        try:
            raw = self._http.request(method, url, body=data, headers=headers, preload_content=not stream,
                                     timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout))
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            # NewConnectionError (refused) is also a ConnectTimeoutError, for urllib3's own history
            if isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
                    reason, urllib3.exceptions.NewConnectionError):
                raise RegistryError(f"registry {self.host} timed out after {self.timeout:g}s on {what}") from exc
            raise RegistryError(f"registry {self.host} unreachable: {_short_reason(reason)}") from exc
        return Response(raw, streamed=stream)

    def _auth_header(self) -> dict[str, str]:
        if self._token:
            return {"Authorization": f"Bearer {self._token}"}
        if self._credentials:
            user, password = self._credentials
            return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
        return {}

    def authorize(self, *scopes: str) -> None:
        """Ask up front for the scopes a piece of work will need ("repository:a:pull,push"), so its
        first requests are not each answered 401: with a token_source the token is minted now,
        otherwise they join the scope of the first challenge."""
        joined = self._scopes_with(" ".join(scopes))
        if self._token_source is not None:
            self._token = self._token_source(joined)

    def _scopes_with(self, scope: str) -> str:
        """The challenge's scope joined to those the token held: one token then covers every
        repository this client works on (a copy reads quarantine and writes published), instead of a
        401 and a new token each time the requests switch repository. Bounded: after eight
        repositories it starts again from the challenge's scope."""
        with self._scopes_lock:
            if len(self._scopes) >= 8:
                self._scopes.clear()
            for entry in scope.split():
                kind, _, rest = entry.partition(":")
                name, _, actions = rest.rpartition(":")
                if not name:
                    return scope  # not a resource scope we understand: ask for it as it is
                held = self._scopes.setdefault((kind, name), [])
                held.extend(a for a in actions.split(",") if a and a not in held)
            return " ".join(f"{kind}:{name}:{','.join(actions)}" for (kind, name), actions in self._scopes.items())

    def _fetch_token(self, challenge: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if "scope" in params:
            params["scope"] = self._scopes_with(params["scope"])
        if self._token_source is not None:
            return self._token_source(params.get("scope", ""))
        realm = params.pop("realm", "")
        if "scope" in params:  # "repository:a:pull repository:b:push" -> one scope= each
            params["scope"] = params["scope"].split()  # type: ignore[assignment]
        auth_host = urlsplit(realm).netloc or realm
        if self._token_session is None:
            self._token_session = requests.Session()
        try:
            resp = self._token_session.get(realm, params=params, auth=self._credentials, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryError(f"token service {auth_host} unreachable: {_short_reason(exc)}") from exc
        if resp.status_code != 200:
            raise RegistryError(f"token service {auth_host} refused access (HTTP {resp.status_code})",
                                status=resp.status_code)
        body = resp.json()
        return body.get("token") or body.get("access_token") or ""

    def _error(self, resp: Response, what: str) -> RegistryError:
        code, detail = _error_detail(resp)
        if resp.status_code == 404:
            message = f"{what} not found"
        elif resp.status_code in (401, 403):
            message = f"registry {self.host} denied access to {what} (HTTP {resp.status_code})"
        else:
            message = f"registry {self.host} failed on {what} (HTTP {resp.status_code})"
        return RegistryError(f"{message}: {detail}" if detail and resp.status_code != 404 else message,
                             status=resp.status_code, code=code)


def _pick_linux_amd64(index: dict[str, Any], what: str) -> str:
    for entry in index.get("manifests", []):
        platform = entry.get("platform", {})
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return entry["digest"]
    found = sorted({f"{m.get('platform', {}).get('os')}/{m.get('platform', {}).get('architecture')}"
                    for m in index.get("manifests", [])})
    raise RegistryError(f"{what} has no linux/amd64 image (it has: {', '.join(found) or 'nothing'})")


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise RegistryError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise RegistryError(f"{what} is not a JSON object")
    return doc


def _error_detail(resp: Response) -> tuple[str | None, str]:
    """The registry's own `{"errors": [{"code", "message"}]}` explanation, if any."""
    try:
        body = resp.json()
    except ValueError:  # a proxy's HTML page, say: a short excerpt is still a clue
        return None, resp.text[:200].strip()
    errors = [e for e in (body.get("errors") or []) if isinstance(e, dict)] if isinstance(body, dict) else []
    code = errors[0].get("code") if errors else None
    return code, "; ".join(str(e.get("message") or e.get("code")) for e in errors)


def _short_reason(exc: Exception) -> str:
    # The socket error comes wrapped in layers of repr; users only need the errno text.
    match = re.search(r"\[Errno -?\d+\] [^')\"]+", str(exc))
    return match.group(0) if match else str(exc)
