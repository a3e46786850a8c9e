"""Which build a log line is about: the build task sets it, every log record of that task carries it.

A ContextVar, so each worker process (and each thread of it) has its own; records get the
attribute `build` (" build=12", or "" outside a build), which the worker's log formats print
(CELERY_WORKER_LOG_FORMAT, CELERY_WORKER_TASK_LOG_FORMAT in settings.py).
"""
import contextlib
import contextvars
import logging

current_build: contextvars.ContextVar[int | None] = contextvars.ContextVar("current_build", default=None)


@contextlib.contextmanager
def build_log_context(build_id: int):
    token = current_build.set(build_id)
    try:
        yield
    finally:
        current_build.reset(token)


def _record_factory_with_build(factory):
    def make(*args, **kwargs):
        record = factory(*args, **kwargs)
        build_id = current_build.get()
        record.build = f" build={build_id}" if build_id is not None else ""
        record.build_id = build_id
        return record

    make.adds_build = True
    return make


def install() -> None:
    """Give every log record of this process its build (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "adds_build", False):
        logging.setLogRecordFactory(_record_factory_with_build(factory))
