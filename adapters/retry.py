"""Bounded retries with exponential backoff for registry calls that fail because the registry
cannot be reached (restarting, network blip). Refusals (401, 404, a corrupt manifest) are not
retried: asking again would get the same answer."""
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from adapters.registry import RegistryError

T = TypeVar("T")


def registry_unreachable(error: RegistryError) -> bool:
    """No HTTP answer at all: the registry client sets no status for connection errors."""
    return error.status is None and ("unreachable" in str(error) or "timed out" in str(error))


@dataclass
class Backoff:
    """Pauses of `first_delay`, doubling up to `max_delay`, while they fit in `window` seconds in
    all (0: no window); `attempts` (0: no limit) caps the number of tries as well. A registry restart then costs
    a slower push, and an outage up to the window costs nothing but time."""

    first_delay: float
    window: float = 0
    max_delay: float = 30
    attempts: int = 0
    waited: float = 0
    tries: int = 0
    _delay: float = -1

    def next_pause(self) -> float | None:
        """After a failed try: how long to wait before the next one, or None to give up."""
        self.tries += 1
        if self.attempts and self.tries >= self.attempts:
            return None
        if self._delay < 0:
            self._delay = self.first_delay
        if self.window:
            left = self.window - self.waited
            if left <= 0:
                return None
            pause = min(self._delay, self.max_delay, left)
        elif self.attempts:
            pause = min(self._delay, self.max_delay)
        else:  # neither a window nor a number of tries: no retry
            return None
        self._delay *= 2
        self.waited += pause
        return pause

    def counting(self) -> str:
        """"(attempt 2 of 4)" when tries are counted, "(attempt 2, for up to 180 s)" when the window decides."""
        if self.attempts:
            return f"(attempt {self.tries + 1} of {self.attempts})"
        return f"(attempt {self.tries + 1}, for up to {self.window:g} s)"

    def gave_up(self) -> str:
        return f"gave up after {self.tries} attempts over {self.waited:.0f} s"


def with_registry_retries(call: Callable[[], T], *, attempts: int, first_delay: float,
                          on_line: Callable[[str], None], sleep: Callable[[float], None] = time.sleep,
                          window: float = 0, max_delay: float = 30) -> T:
    """`call()`, again after 1x, 2x, 4x... `first_delay` while the registry is unreachable, for at
    most `attempts` tries (0: as long as the pauses fit in `window` seconds); each retry is
    announced through on_line (the build log). The last error is raised as is, saying how long it tried."""
    backoff = Backoff(first_delay=first_delay, window=window, max_delay=max_delay, attempts=attempts)
    while True:
        try:
            return call()
        except RegistryError as error:
            if not registry_unreachable(error):
                raise
            pause = backoff.next_pause()
            if pause is None:
                raise RegistryError(f"{error} ({backoff.gave_up()})", status=None, code=error.code)
            on_line(f"{error}; retrying in {pause:g} s {backoff.counting()}")
            sleep(pause)
