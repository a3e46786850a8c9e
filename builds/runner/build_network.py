"""What a build's steps can reach: the build network and the proxy on it.

Steps run on an internal Docker network (BUILD_NETWORK): no route out, and the host drops all they
send it but to the build proxy, which forwards to allowed hosts only, Debian's mirrors through the
package cache (scripts/ensure-services.sh sets the three up). So a RUN of a team's Dockerfile
reaches neither the host's ports, nor internal services, nor a cloud metadata address.

The proxy reaches builds as the predefined `http_proxy`/`https_proxy` build args: the legacy builder
keeps predefined proxy args out of the layer cache key and out of `docker history` (unless a
Dockerfile declares them with ARG), so images built with and without it share layers and never
record the proxy address.
"""
import logging
import socket
from typing import Callable
from urllib.parse import urlsplit

from django.conf import settings

from adapters.engine import network_gateway
from builds.errors import StepFailed

log = logging.getLogger(__name__)


def proxy_answers(url: str, timeout: float) -> str:
    """"" when a TCP connection to the proxy opens, else why not. Checked from the worker, which
    runs on the engine's host (the proxy listens on that host's address on the build network)."""
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


def build_network() -> str:
    """The network build steps run on ("" for the engine's default); StepFailed when it is missing."""
    name = settings.BUILD_NETWORK
    if name and network_gateway(name) is None:
        raise StepFailed("build:app:build-network", f"The build network {name!r} does not exist on the Docker Engine; "
                         "run scripts/ensure-services.sh (it creates it), then retry the build.")
    return name


def build_proxy_url() -> str:
    """The proxy builds go through: APT_PROXY, or the build proxy on the build network's gateway."""
    if settings.APT_PROXY or not settings.BUILD_NETWORK:
        return settings.APT_PROXY
    gateway = network_gateway(settings.BUILD_NETWORK)
    return f"http://{gateway}:{settings.BUILD_PROXY_PORT}" if gateway else ""


def build_proxy_args(*, url: str, timeout: float, on_line: Callable[[str], None]) -> dict:
    """The build args for one build: the proxy when it answers, nothing when it does not (on the
    build network the steps then reach nothing at all: the log says so)."""
    if not url:
        return {}
    problem = proxy_answers(url, timeout) if timeout > 0 else ""  # 0: a proxy this worker cannot reach, trusted
    if problem:
        where = ("its steps reach no network" if settings.BUILD_NETWORK
                 else "building direct to the mirrors")
        message = f"Build proxy {url} does not answer ({problem}); {where}."
        log.warning(message)
        on_line(message)
        return {}
    on_line(f"Network through the build proxy at {url} (Debian's mirrors through the package cache)")
    return {"http_proxy": url, "https_proxy": url}
