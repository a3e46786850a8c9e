"""Download one vulnerability feed to a file: streamed, size-capped, with timeouts, and
conditional (ETag / Last-Modified) so an unchanged feed costs one small request.

The only module that fetches feeds over the network; it knows nothing of the database.
"""
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import requests

CHUNK = 1 << 16
KNOWN_SUFFIXES = (".zip", ".json", ".yaml", ".yml", ".list")
# What each importer reads when the URL does not say (the OSV importer needs ".zip" to open an archive).
DEFAULT_SUFFIX = {"osv": ".json", "debian-tracker": ".json", "debian-dsa": ".list", "debian-dla": ".list",
                  "alpine-secdb": ".json"}
ZIP_MAGIC = b"PK\x03\x04"


class FeedError(Exception):
    """The feed could not be fetched; the message says why in words an operator can act on."""


@dataclass(frozen=True)
class Download:
    path: Path | None  # None: the server said the feed has not changed (304)
    etag: str = ""
    last_modified: str = ""
    size: int = 0


def _file_name(url: str, source: str) -> str:
    suffix = Path(urlparse(url).path).suffix.lower()
    return "feed" + (suffix if suffix in KNOWN_SUFFIXES else DEFAULT_SUFFIX.get(source, ".json"))


def feed_download(url: str, *, source: str, folder: Path, etag: str = "", last_modified: str = "",
                  max_bytes: int, timeout: tuple[float, float]) -> Download:
    """GET `url` into `folder`, unless the server answers 304 to the validators given."""
    headers = {"User-Agent": "image-portal-vulndb-sync"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    host = urlparse(url).netloc or url
    try:
        with requests.get(url, headers=headers, stream=True, timeout=timeout) as response:
            if response.status_code == 304:
                return Download(None, etag, last_modified)
            if response.status_code != 200:
                raise FeedError(f"{host} answered HTTP {response.status_code} {response.reason or ''}".rstrip())
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FeedError(f"the feed is {int(declared):,} bytes, more than the {max_bytes:,} allowed "
                                f"(VULNDB_FEED_MAX_BYTES)")
            path, size = folder / _file_name(url, source), 0
            with path.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FeedError(f"the feed passed the {max_bytes:,} bytes allowed (VULNDB_FEED_MAX_BYTES); "
                                        f"download stopped")
                    out.write(chunk)
            path = _zip_named(path)
            return Download(path, response.headers.get("ETag", ""), response.headers.get("Last-Modified", ""), size)
    except requests.exceptions.ConnectTimeout:
        raise FeedError(f"no connection to {host} within {timeout[0]:g} s (offline, or a firewall drops it?)") from None
    except requests.exceptions.ReadTimeout:
        raise FeedError(f"{host} sent nothing for {timeout[1]:g} s; download abandoned") from None
    except requests.exceptions.ConnectionError as error:
        raise FeedError(f"cannot connect to {host} (offline, wrong address, or the server is down): "
                        f"{_root_cause(error)}") from None
    except requests.RequestException as error:
        raise FeedError(f"download from {host} failed: {_root_cause(error)}") from None
    except OSError as error:  # writing the temporary file
        raise FeedError(f"cannot store the download: {error}") from None


def _zip_named(path: Path) -> Path:
    """An archive served from a URL without ".zip" gets the suffix the OSV importer needs."""
    if path.suffix != ".zip":
        with path.open("rb") as file:
            if file.read(4) == ZIP_MAGIC:
                return path.rename(path.with_suffix(".zip"))
    return path


def _root_cause(error: BaseException) -> str:
    """The operating system's words ("Connection refused", "Name or service not known") from
    under requests' and urllib3's wrappers, whose own messages are mostly object reprs."""
    stack, seen = [error], set()
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        stack += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        stack += [arg for arg in current.args if isinstance(arg, BaseException)]
    return str(error) or type(error).__name__
