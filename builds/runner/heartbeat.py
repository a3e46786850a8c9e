"""A running build's heartbeat, written from a thread of its own every BUILD_HEARTBEAT_SECONDS.

Log lines and the engine watchdog also beat the heart, but only while they run: a scan of a large
image, a slow pull or a push backoff prints nothing for a while. The reaper must be able to tell
such a build from one whose worker died within seconds, so the beat does not depend on the step.
The thread dies with its process (kill -9, out of memory), which is exactly what the reaper reads.
"""
import logging
import threading

from django.conf import settings
from django.utils import timezone

from builds.models import Build
from portal.db_retry import connection_drop

log = logging.getLogger(__name__)


def heartbeat_write(build_id: int) -> bool:
    """One beat; False when the database did not answer (the next beat tries again). The thread's
    connection is closed each time: one idle connection per running build would add up."""
    try:
        Build.objects.filter(pk=build_id, status=Build.Status.RUNNING).update(heartbeat=timezone.now())
        return True
    except Exception as error:  # noqa: BLE001 - not only DatabaseError (InterfaceError is not one): a dead
        # beat thread would make a healthy build read as lost, and the reaper run it twice
        log.warning("build %s: heartbeat not written: %s: %s", build_id, type(error).__name__, error)
        return False
    finally:
        connection_drop()


class BuildHeartbeat:
    """`with BuildHeartbeat(build_id): ...` beats while the block runs."""

    def __init__(self, build_id: int, interval: float | None = None):
        self.build_id = build_id
        self.interval = interval if interval is not None else settings.BUILD_HEARTBEAT_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-build-{build_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            heartbeat_write(self.build_id)

    def __enter__(self) -> "BuildHeartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
