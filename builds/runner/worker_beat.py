"""A worker's own heartbeat: a thread of its main process writes, every WORKER_HEARTBEAT_SECONDS,
which queues it consumes and which builds its pool runs (builds/liveness.py reads them)."""
import logging
import os
import threading

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from builds.liveness import worker_heartbeat_remove, worker_heartbeat_write
from portal.db_retry import connection_drop

log = logging.getLogger(__name__)
RUN_BUILD = "builds.tasks.run_build"


def consumer_queues(consumer) -> list[str]:
    """The queues the worker consumes from now (a remote cancel_consumer takes one away)."""
    task_consumer = getattr(consumer, "task_consumer", None)
    return [queue.name for queue in (task_consumer.queues if task_consumer is not None else [])]


def running_builds() -> list[int]:
    from celery.worker.state import active_requests

    try:
        return [int(request.args[0]) for request in list(active_requests) if request.task_name == RUN_BUILD and request.args]
    except (RuntimeError, ValueError, TypeError, IndexError):  # the set changed while read: next beat
        return []


class WorkerBeat:
    def __init__(self, consumer, interval: float | None = None):
        self.consumer = consumer
        self.node = consumer.hostname
        self.interval = interval if interval is not None else settings.WORKER_HEARTBEAT_SECONDS
        self.started = timezone.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def beat(self) -> None:
        try:
            pool = getattr(self.consumer, "pool", None)
            worker_heartbeat_write(node=self.node, pid=os.getpid(), queues=consumer_queues(self.consumer),
                                   concurrency=getattr(pool, "num_processes", 0) or 0, active_builds=running_builds(),
                                   started=self.started)
        except Exception as error:  # noqa: BLE001 - whatever it was, the next beat tries again: a dead
            # beat thread would make a healthy worker read as lost 15 s later
            log.warning("worker heartbeat not written: %s: %s", type(error).__name__, error)
        finally:
            connection_drop()

    def _run(self) -> None:
        self.beat()
        while not self._stop.wait(self.interval):
            self.beat()

    def start(self) -> "WorkerBeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        try:
            worker_heartbeat_remove(node=self.node)
        except DatabaseError as error:
            log.warning("worker heartbeat not removed: %s", error)
        finally:
            connection_drop()
