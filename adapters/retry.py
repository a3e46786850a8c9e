"""Bounded retries with exponential backoff for registry calls that fail because the registry
cannot be reached (restarting, network blip). Refusals (401, 404, a corrupt manifest) are not
retried: asking again would get the same answer."""
import time
from typing import Callable, TypeVar

from adapters.registry import RegistryError

T = TypeVar("T")


def registry_unreachable(error: RegistryError) -> bool:
    """No HTTP answer at all: the registry client sets no status for connection errors."""
    return error.status is None and ("unreachable" in str(error) or "timed out" in str(error))


def with_registry_retries(call: Callable[[], T], *, attempts: int, first_delay: float,
                          on_line: Callable[[str], None], sleep: Callable[[float], None] = time.sleep) -> T:
    """`call()`, again after 1x, 2x, 4x... `first_delay` while the registry is unreachable;
    each retry is announced through on_line (the build log). The last error is raised as is,
    with the number of attempts added."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except RegistryError as error:
            if not registry_unreachable(error):
                raise
            if attempt == attempts:
                raise RegistryError(f"{error} (gave up after {attempts} attempts)", status=None, code=error.code)
            on_line(f"{error}; retrying in {delay:g} s (attempt {attempt + 1} of {attempts})")
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
