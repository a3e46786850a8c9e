"""Are builders alive? What workers write about themselves, and what pages say with it.

Each worker's main process writes a WorkerHeartbeat row every WORKER_HEARTBEAT_SECONDS (its
queues and the builds its pool runs). A queued build nobody consumes, or a running build whose
worker or heartbeat went silent, says so on its page and in the API at once, instead of
"waiting for a builder" forever.
"""
import datetime
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from builds.models import Build, WorkerHeartbeat
from builds.runner.reaper import MAX_ATTEMPTS
from portal.broker import queue_depths as broker_queue_depths


def worker_heartbeat_write(*, node: str, pid: int, queues: list[str], concurrency: int, active_builds: list[int],
                           started: datetime.datetime) -> WorkerHeartbeat:
    row, _ = WorkerHeartbeat.objects.update_or_create(node=node, defaults={
        "pid": pid, "queues": sorted(queues), "concurrency": concurrency, "active_builds": sorted(active_builds),
        "started": started, "last_seen": timezone.now()})
    return row


def worker_heartbeat_remove(*, node: str) -> None:
    """A worker that stops cleanly says so: pages need not wait for its row to go stale."""
    WorkerHeartbeat.objects.filter(node=node).delete()


def workers_alive(now=None):
    now = now or timezone.now()
    return WorkerHeartbeat.objects.filter(last_seen__gte=now - datetime.timedelta(seconds=settings.WORKER_STALE_SECONDS))


def build_queue_of(build_id: int) -> str:
    """The queue a build is sent to (builds.tasks.build_queue, without importing Celery here)."""
    queues = settings.BUILD_QUEUES
    return queues[build_id % len(queues)]


@dataclass(frozen=True)
class Liveness:
    """`state`: "ok", "no-builder" (queued, no live worker consumes its queue) or "builder-lost"
    (running, its worker or its heartbeat went silent); `message` says it to the user."""

    state: str = "ok"
    message: str = ""
    silent_seconds: int | None = None


def build_liveness(build: Build, now=None, alive=None) -> Liveness:
    """What the build page and the API say about the builder of this build. `alive`: the live
    workers, when the caller already has them (a list of many builds)."""
    if build.is_done:
        return Liveness()
    now = now or timezone.now()
    alive = list(alive if alive is not None else workers_alive(now))
    if build.status == Build.Status.QUEUED:
        queue = build_queue_of(build.pk)
        if not any(queue in worker.queues for worker in alive):
            return Liveness("no-builder", "No builder is running: the build will start when one is back.")
        return Liveness()
    silent = int((now - build.heartbeat).total_seconds()) if build.heartbeat else None
    node = build.worker.rpartition(":")[0]
    worker_alive = any(worker.node == node for worker in alive)
    quiet = silent is not None and silent > 3 * settings.BUILD_HEARTBEAT_SECONDS
    if worker_alive and not quiet:
        return Liveness()
    then = "it will be retried" if build.attempts < MAX_ATTEMPTS else \
        "this was its last attempt: it will be marked failed, and you can retry it"
    ago = f" {silent} s ago" if silent is not None else ""
    return Liveness("builder-lost", f"The builder running this build stopped answering{ago}; {then}.", silent)


@dataclass(frozen=True)
class QueueHealth:
    name: str
    depth: int | None  # messages waiting in the broker; None: the broker did not answer
    consumers: int  # live workers consuming it


@dataclass(frozen=True)
class WorkersHealth:
    workers: list
    queues: list
    queued_builds: int
    running_builds: int
    oldest_queued: Build | None
    broker_error: str


def work_queues() -> list[str]:
    """Every queue the portal sends work to: the build queues, and those of the task routes."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return sorted({*settings.BUILD_QUEUES, *routed, settings.CELERY_TASK_DEFAULT_QUEUE})


def workers_health(*, queue_depths=None) -> WorkersHealth:
    """Live workers, each queue's depth and consumers, the oldest queued build. `queue_depths(names)`
    gives {name: depth} from the broker or raises."""
    alive = list(workers_alive())
    names = work_queues()
    try:
        depths, error = (queue_depths or broker_queue_depths)(names), ""
    except Exception as failure:  # the broker is down: say so, show the rest
        depths, error = {}, str(failure) or type(failure).__name__
    queues = [QueueHealth(name, depths.get(name), sum(name in w.queues for w in alive)) for name in names]
    queued = Build.objects.filter(status=Build.Status.QUEUED)
    return WorkersHealth(alive, queues, queued.count(), Build.objects.filter(status=Build.Status.RUNNING).count(),
                         queued.order_by("created").first(), error)
