"""A build step's reach on the real engine: on the build network a RUN of a team's Dockerfile gets
to Debian's mirrors through the build proxy, and to nothing else: not a port the host listens on
(at the network's gateway or at docker0), not the internet, not a cloud metadata address, not even
through the proxy."""
import base64
import socket
import threading
import uuid
from unittest import mock

import pytest
from django.conf import settings

from adapters.engine import network_gateway
from builds.dockerfile.services import recipe_save_dockerfile
from builds.models import Build
from builds.runner.pipeline import build_run
from builds.services import build_request

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PROBES = r"""
probe() {  # NAME HOST PORT [REQUEST-LINE]: the first line of the answer, or why there is none
  if answer=$(timeout 5 bash -c "exec 3<>/dev/tcp/$2/$3; printf '%s\r\nHost: x\r\n\r\n' '${4:-GET / HTTP/1.0}' >&3; head -1 <&3" 2>/dev/null); then
    echo "PROBE $1: ${answer%$'\r'}"
  else echo "PROBE $1: no connection"; fi
}
proxy=${http_proxy#http://}; proxy_host=${proxy%:*}; proxy_port=${proxy##*:}
probe host-port-at-gateway "$GATEWAY" "$PORT"
probe host-port-at-docker0 "$DOCKER0" "$PORT"
probe internet 1.1.1.1 80
probe metadata 169.254.169.254 80
probe proxy-debian "$proxy_host" "$proxy_port" "GET http://deb.debian.org/debian/dists/bookworm/Release HTTP/1.0"
probe proxy-host-port "$proxy_host" "$proxy_port" "GET http://$GATEWAY:$PORT/ HTTP/1.0"
probe proxy-metadata "$proxy_host" "$proxy_port" "GET http://169.254.169.254/latest/meta-data/ HTTP/1.0"
probe proxy-other-site "$proxy_host" "$proxy_port" "CONNECT github.com:443 HTTP/1.0"
"""


@pytest.fixture
def listener():
    """A TCP service on every address of the host, counting who reaches it."""
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen()
    server.settimeout(0.2)
    reached, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connection, peer = server.accept()
            except OSError:
                continue
            reached.append(peer)
            connection.sendall(b"HTTP/1.0 200 OK\r\n\r\nhost service\r\n")
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], reached
    stop.set()
    thread.join(timeout=2)
    server.close()


def docker0_address() -> str:
    import subprocess

    found = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True).stdout.split()
    return found[3].split("/")[0] if len(found) > 3 else "172.17.0.1"


def test_a_run_step_reaches_only_the_proxys_allowed_hosts(starter_catalog, team, member, listener):
    port, reached = listener
    gateway = network_gateway(settings.BUILD_NETWORK) if settings.BUILD_NETWORK else None
    assert gateway, "the build network exists (scripts/ensure-services.sh creates it)"
    dockerfile = (f"FROM base/debian:bookworm\nARG GATEWAY={gateway}\nARG DOCKER0={docker0_address()}\nARG PORT={port}\n"
                  f"RUN echo {base64.b64encode(PROBES.encode()).decode()} | base64 -d > /tmp/probes.sh "
                  f"&& bash /tmp/probes.sh && echo done-{uuid.uuid4().hex}\nUSER 10001:10001\n")
    recipe = recipe_save_dockerfile(user=member, team=team, name="reach", dockerfile=dockerfile, build_args={})
    with mock.patch("builds.services.build_dispatch"):  # the build runs in this process
        build = build_request(user=member, recipe=recipe, no_cache=True)
    build_run(build.pk)
    build.refresh_from_db()

    assert build.status == Build.Status.SUCCEEDED, build.error_message
    probes = dict(line.removeprefix("PROBE ").split(": ", 1)
                  for line in "".join(build.log_chunks.values_list("text", flat=True)).splitlines()
                  if line.startswith("PROBE "))
    assert probes["proxy-debian"].startswith("HTTP/1.0 200"), probes  # what builds need works
    for name in ("host-port-at-gateway", "host-port-at-docker0", "internet", "metadata"):
        assert probes[name] == "no connection", (name, probes)
    for name in ("proxy-host-port", "proxy-metadata", "proxy-other-site"):
        assert " 403 " in probes[name] + " ", (name, probes)
    assert reached == [], "nothing from the build reached the host's service"

