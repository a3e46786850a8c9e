"""PostgreSQL restarts while the web process serves.

A real gunicorn process serves the portal from a private PostgreSQL cluster. While the cluster is
down, pages answer a 503 "database unavailable, retry shortly" page and the API a JSON 503 with
Retry-After, never a 500 traceback. Once it is back, the same requests succeed from the same web
process, and everything written before the outage is still there.
"""
import os
import subprocess
import sys

import psycopg
import pytest
import requests

from tests.conftest import ARTIFACTS, ROOT
from tests.integration.private_services import PrivatePostgres, free_port, port_open, private_workdir, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PASSWORD = "correct horse battery staple"


def manage(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"manage.py {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def private_postgres():
    cluster = PrivatePostgres(private_workdir("postgres")).init().start()
    try:
        cluster.create_database("portal")
        manage(cluster.url, "migrate", "--noinput")
        manage(cluster.url, "shell", "-c",
               "from django.contrib.auth.models import User; from portal.models import Team, Membership;"
               f"u = User.objects.create_user('dora', password={PASSWORD!r});"
               "t = Team.objects.create(slug='ops', name='Ops'); Membership.objects.create(user=u, team=t)")
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="module")
def web(private_postgres):
    """gunicorn, one sync worker, keeping its database connection across requests (CONN_MAX_AGE),
    as in production: the case where a dead connection must be noticed and replaced."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": private_postgres.url, "CONN_MAX_AGE": "600", "CONN_HEALTH_CHECKS": "true",
           "DEBUG": "false"}
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "web-database-restart.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--timeout", "60", "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_open(port) or process.poll() is not None, 60, "gunicorn listening")
        if process.poll() is not None:
            pytest.fail("gunicorn exited; see test-artifacts/web-database-restart.log", pytrace=False)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def logged_in(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    answer = session.post(f"{base}/login/", timeout=10, headers={"Referer": f"{base}/login/"},
                          data={"username": "dora", "password": PASSWORD,
                                "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    assert answer.status_code == 200 and "dora" in answer.text, answer.text[:500]
    return session


def rows(cluster, query: str) -> list:
    with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=portal") as connection:
        return connection.execute(query).fetchall()


def assert_database_unavailable(page: requests.Response, api: requests.Response) -> None:
    assert page.status_code == 503, (page.status_code, page.text[:300])
    assert "database unavailable, retry shortly" in page.text
    assert "Traceback" not in page.text and "OperationalError" not in page.text
    assert page.headers["Retry-After"].isdigit()
    assert api.status_code == 503, (api.status_code, api.text[:300])
    assert api.headers["Content-Type"].startswith("application/json")
    assert api.json()["detail"] == "database unavailable, retry shortly"
    assert int(api.headers["Retry-After"]) > 0


def test_the_web_answers_503_while_postgres_is_down_and_recovers_by_itself(private_postgres, web):
    base, process = web
    browser = logged_in(base)  # written before the outage: a session row
    token = requests.post(f"{base}/api/token/", data={"username": "dora", "password": PASSWORD}, timeout=10).json()["token"]
    api = {"Authorization": f"Token {token}"}
    assert browser.get(f"{base}/", timeout=10).status_code == 200
    assert requests.get(f"{base}/api/builds/", headers=api, timeout=10).status_code == 200

    private_postgres.stop()
    try:
        for _ in range(2):  # every request, not just the first one after the connection died
            assert_database_unavailable(browser.get(f"{base}/", timeout=10),
                                        requests.get(f"{base}/api/builds/", headers=api, timeout=10))
    finally:
        private_postgres.start()

    home = browser.get(f"{base}/", timeout=10)
    assert home.status_code == 200 and "dora" in home.text, "the same session, so the session row survived"
    listing = requests.get(f"{base}/api/builds/", headers=api, timeout=10)
    assert listing.status_code == 200 and listing.json()["count"] == 0, "the same token, so the token row survived"
    assert process.poll() is None, "the web process was never restarted"
    assert rows(private_postgres, "select count(*) from portal_apitoken") == [(1,)]


def test_a_restart_between_two_requests_goes_unnoticed(private_postgres, web):
    """The kept connection died while idle; the health check replaces it before the first query."""
    base, process = web
    browser = logged_in(base)
    assert browser.get(f"{base}/", timeout=10).status_code == 200
    private_postgres.stop()
    private_postgres.start()
    assert browser.get(f"{base}/", timeout=10).status_code == 200
    assert process.poll() is None
