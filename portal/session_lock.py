"""One process at a time across the fleet of workers, for work that must not run twice at once:
a PostgreSQL session-level advisory lock, held across the transactions of the work and released
at its end, or with the connection when the process dies."""
import logging
from contextlib import contextmanager

from django.db import DatabaseError, connection

log = logging.getLogger(__name__)


@contextmanager
def session_lock(key: int, *, wait: bool):
    """Yields whether this process holds lock `key` (`wait`: block until it does; otherwise False
    at once when another holds it). Off PostgreSQL (the embedded defaults: one process) always held."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)" if wait else "SELECT pg_try_advisory_lock(%s)", [key])
        held = wait or cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError as error:  # the connection went, and the lock with it
                log.warning("lock %s not released: %s", key, error)
