"""PostgreSQL restarts while a build runs: the build finishes instead of crashing on "the
connection is closed" and staying "running" until the reaper noticed.

A real worker (with its beat and reaper) runs on a private PostgreSQL cluster and a private Redis;
the test requests the build with manage.py on that cluster and reads it back with psycopg.
"""
import time

import psycopg
import pytest

from tests.integration.private_services import wait_until
from tests.integration.test_fault_database_restart import manage, private_postgres  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.faults]

REQUEST = """
from builds.recipes.services import recipe_save
from builds.services import build_request
from catalog.models import BaseImage, Component, ComponentVersion
from catalog.services import starter_catalog_load
from django.contrib.auth.models import User
from portal.models import Team
starter_catalog_load()
user, team = User.objects.get(username="dora"), Team.objects.get(slug="ops")
component = Component.objects.create(slug="sleep-pg", name="Sleeper", kind="option")
version = ComponentVersion.objects.create(component=component, version="1", os_families=["busybox"],
    fragment="RUN echo started-sleeping-pg && sleep 8 && echo woke-up")
recipe = recipe_save(user=user, team=team, name="pg", base=BaseImage.objects.get(slug="busybox"), choices=[(version, {})])
print("BUILD", build_request(user=user, recipe=recipe, no_cache=True).pk)
"""


def query(cluster, sql: str, *args):
    try:
        with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=portal", connect_timeout=2) as db:
            return db.execute(sql, args).fetchall()
    except psycopg.OperationalError:
        return None  # down


def test_a_build_finishes_when_postgres_restarts_while_it_runs(private_postgres, private_broker,  # noqa: F811
                                                                fault_worker_factory):
    cluster = private_postgres
    fault_worker_factory("database-build", concurrency=1, beat=True, REAPER_INTERVAL_SECONDS=2, DATABASE_URL=cluster.url)
    # private_broker pointed this process's environment at the private Redis: manage.py sends there too.
    output = manage(cluster.url, "shell", "-c", REQUEST)
    build_id = int(output.split("BUILD", 1)[1].split()[0])

    def log_has(text: str) -> bool:
        rows = query(cluster, "select count(*) from builds_buildlogchunk where build_id = %s and text like %s",
                     build_id, f"%{text}%")
        return bool(rows and rows[0][0])

    wait_until(lambda: log_has("started-sleeping-pg"), 120, "the build's sleeping step starting")
    cluster.stop()
    time.sleep(2)
    cluster.start()
    back = time.monotonic()

    def finished():
        rows = query(cluster, "select status from builds_build where id = %s", build_id)
        return bool(rows) and rows[0][0] in ("succeeded", "failed", "cancelled")
    wait_until(finished, 180, "the build finishing after the restart")
    status, attempts, error = query(cluster, "select status, attempts, error_message from builds_build where id = %s", build_id)[0]
    log = "".join(row[0] for row in query(cluster, "select text from builds_buildlogchunk where build_id = %s order by seq",
                                          build_id))
    print(f"\nPostgreSQL restarted mid-build: build {build_id} {status} after {attempts} attempt(s), "
          f"{time.monotonic() - back:.1f} s after the database was back")
    assert status == "succeeded", f"{error}\n{log[-3000:]}"
    # The restart came while the step slept: its log lines waited and its writes were tried again,
    # so the same run went on (a step that loses the database mid-write is retried once instead).
    assert attempts == 1, log[-3000:]
    assert "woke-up" in log.splitlines() and log.count("started-sleeping-pg\n") == 1
