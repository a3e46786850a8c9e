"""Retries of registry calls: only while the registry cannot be reached, bounded, announced."""
import pytest

from adapters.engine import EngineError, RegistryUnreachable, _push_failure
from adapters.registry import RegistryError
from adapters.retry import with_registry_retries


def flaky(failures):
    """A call that raises each of `failures` in turn, then answers "done"."""
    remaining = list(failures)

    def call():
        if remaining:
            raise remaining.pop(0)
        return "done"
    return call


def test_it_retries_an_unreachable_registry_with_doubling_pauses_and_says_so():
    down = RegistryError("registry 127.0.0.1:5000 unreachable: [Errno 111] Connection refused")
    lines, pauses = [], []
    result = with_registry_retries(flaky([down, down]), attempts=4, first_delay=0.5, on_line=lines.append,
                                   sleep=pauses.append)
    assert result == "done"
    assert pauses == [0.5, 1.0]
    assert lines == [f"{down}; retrying in 0.5 s (attempt 2 of 4)", f"{down}; retrying in 1 s (attempt 3 of 4)"]


def test_it_gives_up_after_the_last_attempt_naming_the_count():
    down = RegistryError("registry 127.0.0.1:5000 timed out after 60s on manifest x:1")
    with pytest.raises(RegistryError, match=r"timed out .* \(gave up after 3 attempts over 0 s\)"):
        with_registry_retries(flaky([down] * 3), attempts=3, first_delay=0, on_line=lambda line: None,
                              sleep=lambda seconds: None)


def test_it_never_retries_a_refusal():
    denied = RegistryError("registry 127.0.0.1:5000 denied access to manifest x:1 (HTTP 401)", status=401)
    calls = []
    with pytest.raises(RegistryError) as raised:
        with_registry_retries(lambda: calls.append(1) or (_ for _ in ()).throw(denied), attempts=4, first_delay=0,
                              on_line=lambda line: None, sleep=lambda seconds: None)
    assert raised.value is denied and len(calls) == 1


@pytest.mark.parametrize("detail", [
    'Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused',
    "Put http://127.0.0.1:5000/v2/x/blobs/uploads/1: write tcp 127.0.0.1:1->127.0.0.1:5000: write: broken pipe",
    'Patch "http://127.0.0.1:5000/v2/x/blobs/uploads/2": EOF',
])
def test_a_push_that_cannot_reach_the_registry_says_registry_unreachable(detail):
    error = _push_failure("127.0.0.1:5000/quarantine/t/app", detail)
    assert isinstance(error, RegistryUnreachable)
    assert str(error).startswith("registry unreachable (127.0.0.1:5000): ")


def test_a_refused_push_is_not_called_unreachable():
    error = _push_failure("127.0.0.1:5000/quarantine/t/app", "denied: requested access to the resource is denied")
    assert type(error) is EngineError and "Push to the registry failed: denied" in str(error)


def test_a_window_bounds_the_retries_by_time_with_capped_doubling_pauses():
    from adapters.retry import Backoff

    backoff, pauses = Backoff(first_delay=2, window=180, max_delay=30), []
    while (pause := backoff.next_pause()) is not None:
        pauses.append(pause)
    assert pauses == [2, 4, 8, 16, 30, 30, 30, 30, 30] and sum(pauses) == 180
    assert backoff.gave_up() == "gave up after 10 attempts over 180 s"


def test_registry_calls_retry_over_the_window_and_say_how_long_they_tried():
    down = RegistryError("registry 127.0.0.1:5000 unreachable: [Errno 111] Connection refused")
    lines, pauses = [], []
    with pytest.raises(RegistryError, match=r"\(gave up after 4 attempts over 7 s\)"):
        with_registry_retries(flaky([down] * 10), attempts=0, first_delay=1, window=7, on_line=lines.append,
                              sleep=pauses.append)
    assert pauses == [1, 2, 4]
    assert lines[0] == f"{down}; retrying in 1 s (attempt 2, for up to 7 s)"
