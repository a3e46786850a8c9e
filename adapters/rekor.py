"""A small client for a Rekor transparency log's v1 API: propose an entry, get back where the log
put it. Only what the portal's optional upload needs (compliance/attestations/transparency.py);
nothing is read back to verify anything: verification stays offline and key-based.

Entries are `dsse` (an in-toto envelope and the public key that verifies it) and `hashedrekord` (a
signature over a sha256 digest, as cosign logs its image signatures). A log answers 201 with the
new entry, or 409 with the address of the entry it already holds for the same content (an upload
retried after a lost answer), which is then read. No Django: the caller passes URL and timeout.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import urljoin

import urllib3


class RekorError(Exception):
    """The log did not take the entry; the message says why in words fit for a page. `refused`: the
    log judged the entry (4xx), so sending it again changes nothing; otherwise try again later."""

    def __init__(self, message: str, *, refused: bool = False):
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True)
class LogEntry:
    uuid: str
    log_index: int
    integrated_time: int
    log_id: str

    def as_record(self, log_url: str) -> dict:
        return {"log": log_url, "uuid": self.uuid, "logIndex": self.log_index, "integratedTime": self.integrated_time,
                "logID": self.log_id}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def dsse_entry(envelope: dict, public_key_pem: bytes) -> dict:
    """The proposed `dsse` entry of a DSSE envelope (sent as its JSON text, as the log hashes it)."""
    return {"apiVersion": "0.0.1", "kind": "dsse",
            "spec": {"proposedContent": {"envelope": json.dumps(envelope, separators=(",", ":")),
                                         "verifiers": [_b64(public_key_pem)]}}}


def hashedrekord_entry(sha256_hex: str, signature: bytes, public_key_pem: bytes) -> dict:
    """The proposed `hashedrekord` entry of a signature over the content whose sha256 is given."""
    return {"apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {"signature": {"content": _b64(signature), "publicKey": {"content": _b64(public_key_pem)}},
                     "data": {"hash": {"algorithm": "sha256", "value": sha256_hex}}}}


class RekorClient:
    def __init__(self, base_url: str, *, timeout: float = 10):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=timeout, read=timeout))

    def entry_create(self, proposed: dict) -> LogEntry:
        url = f"{self.base_url}/api/v1/log/entries"
        resp = self._send("POST", url, body=json.dumps(proposed).encode())
        if resp.status == 409 and resp.headers.get("Location"):  # already logged: read the entry it holds
            resp = self._send("GET", urljoin(url, resp.headers["Location"]))
            if resp.status != 200:
                raise RekorError(f"the log holds the entry already but answered {resp.status} reading it")
        elif resp.status != 201:
            refused = 400 <= resp.status < 500 and resp.status not in (408, 429)
            raise RekorError(f"the log {'refused' if refused else 'could not take'} the entry: HTTP {resp.status} "
                             f"{_message(resp.data)}".rstrip(), refused=refused)
        return _entry(resp.data)

    def _send(self, method: str, url: str, body: bytes | None = None):
        try:
            return self._http.request(method, url, body=body, headers={"Content-Type": "application/json",
                                                                        "Accept": "application/json"})
        except urllib3.exceptions.HTTPError as error:
            raise RekorError(f"the log at {self.base_url} did not answer ({error.__class__.__name__})") from None


def _message(data: bytes) -> str:
    try:
        found = json.loads(data)
    except ValueError:
        return data[:200].decode(errors="replace")
    return str(found.get("message", "")) if isinstance(found, dict) else ""


def _entry(data: bytes) -> LogEntry:
    """{uuid: {logIndex, integratedTime, logID, ...}}, the log's answer for one entry."""
    try:
        (uuid, entry), = json.loads(data).items()
        return LogEntry(uuid=str(uuid), log_index=int(entry["logIndex"]), integrated_time=int(entry["integratedTime"]),
                        log_id=str(entry.get("logID", "")))
    except (ValueError, TypeError, KeyError, AttributeError):
        raise RekorError("the log's answer is not a log entry") from None
