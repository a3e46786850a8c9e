"""Registry requests sent side by side. The local registry spends a few milliseconds of its own CPU on
each upload, so a publication's forty-odd requests are cheapest when the independent ones overlap.

One thread pool per process, kept: starting eight threads for every publication cost more than a
round trip on a busy 2-core machine. Work submitted to it never waits on the pool itself, so any
number of callers may share it. A prefork worker forgets the pool it inherited (none of its threads
came along). Pure: no Django."""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable

WORKERS = 8  # under the 16 connections per host the registry client keeps for the process
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="registry")
        return _pool


def _forget_pool_in_child() -> None:
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_in_child)


class RequestBatch:
    """What one pass submitted, so that it can wait for all of it before it returns or raises: a write
    still in flight after a failure could land after the retry's and undo it.

        with RequestBatch() as batch:
            copying = batch.submit(client.copy_image, ...)
    """

    def __init__(self) -> None:
        self._futures: list[Future] = []

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        future = _shared_pool().submit(fn, *args, **kwargs)
        self._futures.append(future)
        return future

    def settle(self) -> None:
        wait(self._futures)

    def __enter__(self) -> RequestBatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.settle()
