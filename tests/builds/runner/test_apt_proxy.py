"""The package cache goes to builds only when it answers; otherwise builds go direct and say so."""
import socket

from builds.runner.apt_proxy import apt_proxy_build_args


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_passes_the_cache_as_the_http_proxy_build_arg_when_it_answers():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        lines = []
        assert apt_proxy_build_args(url=url, timeout=1, on_line=lines.append) == {"http_proxy": url}
    assert lines == [f"Packages through the cache at {url}"]


def test_it_falls_back_to_direct_with_a_log_line_when_the_cache_is_down(caplog):
    url = f"http://127.0.0.1:{closed_port()}"
    lines = []
    assert apt_proxy_build_args(url=url, timeout=1, on_line=lines.append) == {}
    assert lines and lines[0].startswith(f"Package cache {url} does not answer")
    assert "building direct to the mirrors" in lines[0]
    assert any("does not answer" in record.message for record in caplog.records), "the worker's log says it too"


def test_it_adds_nothing_when_no_cache_is_set():
    lines = []
    assert apt_proxy_build_args(url="", timeout=1, on_line=lines.append) == {}
    assert lines == []


def test_a_malformed_setting_is_reported_not_raised():
    lines = []
    assert apt_proxy_build_args(url="http://[broken", timeout=1, on_line=lines.append) == {}
    assert "not a URL" in lines[0]
