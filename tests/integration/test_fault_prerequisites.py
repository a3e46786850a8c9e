"""A fault test on a machine without redis-server, docker-registry or PostgreSQL must FAIL and
say how to get them, never skip quietly (a skipped fault test hides the very faults it covers)."""
import pytest

from tests.integration.private_services import free_port, port_open, require_binary


def test_a_missing_binary_fails_the_test_and_names_the_fix():
    with pytest.raises(pytest.fail.Exception) as failure:
        require_binary("/nonexistent/redis-server", "redis-server")
    message = str(failure.value)
    assert "/nonexistent/redis-server is missing (Debian package redis-server)" in message
    assert "`make test` (scripts/ensure-services.sh --with-db) installs it" in message


def test_private_instances_get_a_port_nobody_listens_on():
    assert not port_open(free_port())
