"""The build proxy goes to builds only when it answers; otherwise the log says the steps have no
network (on the build network) or go direct (without one)."""
import socket

import pytest

from builds.errors import StepFailed
from builds.runner import build_network as module
from builds.runner.build_network import build_network, build_proxy_args, build_proxy_url


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_passes_the_proxy_as_the_proxy_build_args_when_it_answers():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        lines = []
        assert build_proxy_args(url=url, timeout=1, on_line=lines.append) == {"http_proxy": url, "https_proxy": url}
    assert lines[0].startswith(f"Network through the build proxy at {url}")


def test_on_the_build_network_a_proxy_that_is_down_means_no_network_and_the_log_says_so(caplog, settings):
    settings.BUILD_NETWORK = "portal-builds"
    url = f"http://127.0.0.1:{closed_port()}"
    lines = []
    assert build_proxy_args(url=url, timeout=1, on_line=lines.append) == {}
    assert lines and lines[0].startswith(f"Build proxy {url} does not answer") and "reach no network" in lines[0]
    assert any("does not answer" in record.message for record in caplog.records), "the worker's log says it too"


def test_without_a_build_network_a_proxy_that_is_down_means_direct(settings):
    settings.BUILD_NETWORK = ""
    lines = []
    assert build_proxy_args(url=f"http://127.0.0.1:{closed_port()}", timeout=1, on_line=lines.append) == {}
    assert "building direct to the mirrors" in lines[0]


def test_it_adds_nothing_when_no_proxy_is_set():
    lines = []
    assert build_proxy_args(url="", timeout=1, on_line=lines.append) == {}
    assert lines == []


def test_a_malformed_setting_is_reported_not_raised():
    lines = []
    assert build_proxy_args(url="http://[broken", timeout=1, on_line=lines.append) == {}
    assert "not a URL" in lines[0]


def test_the_proxy_defaults_to_the_build_networks_gateway(settings, monkeypatch):
    settings.APT_PROXY, settings.BUILD_NETWORK, settings.BUILD_PROXY_PORT = "", "portal-builds", 3128
    monkeypatch.setattr(module, "network_gateway", lambda name: "172.31.0.1" if name == "portal-builds" else None)
    assert build_proxy_url() == "http://172.31.0.1:3128"
    settings.APT_PROXY = "http://mirror-proxy.example.internal:8080"
    assert build_proxy_url() == "http://mirror-proxy.example.internal:8080", "a site's own proxy wins"


def test_a_missing_build_network_fails_the_build_with_what_to_do(settings, monkeypatch):
    settings.BUILD_NETWORK = "portal-builds"
    monkeypatch.setattr(module, "network_gateway", lambda name: None)
    with pytest.raises(StepFailed) as failed:
        build_network()
    assert failed.value.code == "build:app:build-network" and "ensure-services.sh" in failed.value.message
