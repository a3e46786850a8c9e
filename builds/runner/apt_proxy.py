"""The package cache a build's apt goes through, if any; builds never depend on it being up.

The proxy reaches builds as the predefined `http_proxy` build arg: the legacy builder keeps
predefined proxy args out of the layer cache key and out of `docker history` (unless a Dockerfile
declares them with ARG), so images built with and without the cache share layers and never record
the proxy address. HTTPS sources and downloads are not affected (only `http_proxy` is set).
"""
import logging
import socket
from typing import Callable
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


def proxy_answers(url: str, timeout: float) -> str:
    """"" when a TCP connection to the proxy opens, else why not. Checked from the worker, which
    runs on the engine's host (the proxy listens on that host's bridge address)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 80
    except ValueError as error:
        return f"not a URL ({error})"
    if not host:
        return "not a URL with a host"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        return str(error) or type(error).__name__
    return ""


def apt_proxy_build_args(*, url: str, timeout: float, on_line: Callable[[str], None]) -> dict:
    """The build args for one build: the proxy when it answers, nothing (direct) when it does not."""
    if not url:
        return {}
    problem = proxy_answers(url, timeout)
    if problem:
        message = f"Package cache {url} does not answer ({problem}); building direct to the mirrors."
        log.warning(message)
        on_line(message)
        return {}
    on_line(f"Packages through the cache at {url}")
    return {"http_proxy": url}
