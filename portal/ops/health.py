"""Readiness checks of what the portal needs: the database, the broker, the registry, the engine.

Each check runs in its own thread under one deadline (READYZ_TIMEOUT_SECONDS), so /readyz answers
within that time even when a dependency hangs instead of refusing; a check still running at the
deadline counts as failed ("no answer within N s").
"""
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

from adapters.engine import engine_ping
from adapters.factory import registry_ping


def database_check(timeout: float) -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # this thread's own connection: never left open per probe
    return connection.vendor


def broker_check(timeout: float) -> str:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://", "unix://")):
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
        return "redis"
    if url.startswith("filesystem://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        if not folder.is_dir():
            raise OSError(f"broker folder {folder} is missing")
        return "filesystem"
    raise ValueError(f"no readiness check for broker {url.split('://', 1)[0]}://")


def registry_check(timeout: float) -> str:
    registry_ping(timeout=timeout)
    return settings.REGISTRY_URL


def engine_check(timeout: float) -> str:
    return "docker " + engine_ping(timeout=timeout)


CHECKS = {"database": database_check, "broker": broker_check, "registry": registry_check, "engine": engine_check}


def _timed(check, timeout: float) -> dict:
    started = time.monotonic()
    try:
        result = {"ok": True, "detail": check(timeout)}
    except Exception as error:  # any failure of a dependency is an answer, never a 500
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"[:500]}
    result["seconds"] = round(time.monotonic() - started, 4)
    return result


def readiness(timeout: float | None = None) -> dict[str, dict]:
    """{name: {ok, detail | error, seconds}} for every check, all run at once."""
    timeout = settings.READYZ_TIMEOUT_SECONDS if timeout is None else timeout
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    futures = {name: pool.submit(_timed, check, timeout) for name, check in CHECKS.items()}
    deadline = time.monotonic() + timeout + 0.5
    results = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            results[name] = {"ok": False, "error": f"no answer within {timeout:g} s", "seconds": round(timeout, 4)}
    pool.shutdown(wait=False, cancel_futures=True)
    return results
