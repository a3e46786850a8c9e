"""An alert is never POSTed to this host or a link-local address, whatever the stored address says
(it may have been stored before the check, or its name resolve elsewhere since), and no redirect
is followed (it could lead there)."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from compliance.alerts import webhook_send


@pytest.fixture
def receivers():
    """Two loopback receivers: the first answers every POST with a redirect to the second."""
    received = {"first": [], "second": []}
    servers = []

    def handler(name, redirect_to=None):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received[name].append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(307 if redirect_to else 204)
                if redirect_to:
                    self.send_header("Location", redirect_to())
                self.end_headers()

            def log_message(self, *args):
                pass
        return Handler

    second = HTTPServer(("127.0.0.1", 0), handler("second"))
    first = HTTPServer(("127.0.0.1", 0), handler("first", lambda: f"http://127.0.0.1:{second.server_port}/"))
    for server in (first, second):
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{first.server_port}/hook", received
    for server in servers:
        server.shutdown()
        server.server_close()


def test_it_refuses_this_host_unless_allowed_and_never_follows_a_redirect(settings, receivers):
    url, received = receivers
    settings.ALERT_WEBHOOK_ALLOW_LOCAL = False
    outcome = webhook_send(url, {"event": "image.noncompliant"})
    assert outcome.startswith("refused: 127.0.0.1 is 127.0.0.1") and received == {"first": [], "second": []}
    assert webhook_send("http://169.254.169.254/latest/meta-data/", {}).startswith("refused: 169.254.169.254")
    settings.ALERT_WEBHOOK_ALLOW_LOCAL = True  # a receiver on this host, as here
    assert webhook_send(url, {"event": "image.noncompliant"}) == "HTTP 307"
    assert received == {"first": [{"event": "image.noncompliant"}], "second": []}, "the redirect was not followed"
