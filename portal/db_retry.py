"""Database writes of long-running work (a build) that outlive a PostgreSQL restart.

Django checks a kept connection's health only when a web request starts; a Celery task that runs
for minutes keeps the connection it opened, so after a restart its next query fails with "the
connection is closed" (or "terminating connection due to administrator command"). These helpers
drop the dead connection, so the next query opens a new one, and try again for a while.
"""
import logging
import time
from typing import Callable, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)
T = TypeVar("T")
CONNECTION_ERRORS = (OperationalError, InterfaceError)


def connection_drop() -> None:
    """Forget this thread's connection (it may be dead): the next query connects again. Never in
    the middle of a transaction: that one's owner must see it fail and decide."""
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except CONNECTION_ERRORS:
        pass


def db_retry(call: Callable[[], T], *, seconds: float | None = None, sleep: Callable[[float], None] = time.sleep) -> T:
    """`call()`, tried again every second for up to `seconds` (DB_RETRY_SECONDS) while the database
    cannot be reached. Only outside a transaction: inside one, the whole transaction must be redone."""
    deadline = time.monotonic() + (settings.DB_RETRY_SECONDS if seconds is None else seconds)
    while True:
        try:
            return call()
        except CONNECTION_ERRORS as error:
            if connection.in_atomic_block or time.monotonic() > deadline:
                raise
            log.warning("database unreachable (%s); trying again", str(error).strip().splitlines()[0] if str(error) else error)
            connection_drop()
            sleep(1)
