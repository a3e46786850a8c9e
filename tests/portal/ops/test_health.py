"""/healthz and /readyz: no login, each dependency checked for real, a failing one named with a 503."""
import socket
import threading
import time

import pytest
from django.test import Client

from tests.integration.private_services import free_port


@pytest.fixture
def anonymous():
    return Client()


def test_it_answers_healthz_without_login_and_without_dependencies(anonymous, settings):
    settings.REGISTRY_URL = f"http://127.0.0.1:{free_port()}"  # down: liveness does not care
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_it_answers_probes_whatever_the_host_header(anonymous):
    # Kubernetes probes with the pod's address as Host, which ALLOWED_HOSTS does not list.
    assert anonymous.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert anonymous.get("/admin/", HTTP_HOST="10.1.2.3:8000").status_code == 400, "other pages still check the host"


def test_it_is_ready_when_every_dependency_answers(db, services, anonymous):
    response = anonymous.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["ok"] is True and body["failing"] == []
    assert set(body["checks"]) == {"database", "broker", "registry", "engine"}
    for name, check in body["checks"].items():
        assert check["ok"] is True, (name, check)
        assert 0 <= check["seconds"] < 5
    assert body["checks"]["engine"]["detail"].startswith("docker ")


def test_it_names_a_registry_on_a_closed_port(db, services, anonymous, settings):
    port = free_port()
    settings.REGISTRY_URL = f"http://127.0.0.1:{port}"
    response = anonymous.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["registry"]
    assert f"127.0.0.1:{port}" in body["checks"]["registry"]["error"]
    assert body["checks"]["database"]["ok"] and body["checks"]["engine"]["ok"] and body["checks"]["broker"]["ok"]


def test_it_names_a_broker_and_an_engine_that_do_not_answer(db, services, anonymous, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.DOCKER_HOST = f"tcp://127.0.0.1:{free_port()}"
    response = anonymous.get("/readyz")
    assert response.status_code == 503
    assert sorted(response.json()["failing"]) == ["broker", "engine"]


def test_it_names_a_missing_database(db, services, anonymous, settings):
    from django.db import connections

    # The check runs in a thread of its own, whose connection is made from these settings.
    original = connections.settings["default"]["NAME"]
    connections.settings["default"]["NAME"] = "portal_no_such_database"
    try:
        response = anonymous.get("/readyz")
    finally:
        connections.settings["default"]["NAME"] = original
    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["database"]
    assert "portal_no_such_database" in body["checks"]["database"]["error"]


def test_it_answers_in_time_when_a_dependency_hangs(db, services, anonymous, settings):
    """A registry that accepts the connection and never answers costs the probe its deadline, no more."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    settings.REGISTRY_URL = f"http://127.0.0.1:{server.getsockname()[1]}"
    settings.READYZ_TIMEOUT_SECONDS = 0.5
    try:
        started = time.monotonic()
        response = anonymous.get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()
    assert response.status_code == 503
    assert response.json()["failing"] == ["registry"]
    assert elapsed < 2.5, f"/readyz took {elapsed:.1f} s with a 0.5 s deadline"
