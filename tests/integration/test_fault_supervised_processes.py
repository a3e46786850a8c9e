"""`make run`'s process supervision (scripts/run-portal.sh, deploy/supervisord.conf) on private services.

The supervised stack (gunicorn, the Celery worker, Celery beat under supervisord) runs on a free port
with its own run folder, the test database and a private Redis. The main worker is killed with
SIGKILL: supervisord starts it again within seconds and the next build is taken and finishes. A rerun
of the script stops what an earlier run left behind, and stopping the script leaves no process.
"""
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from builds.models import Build
from builds.services import build_request
from tests.conftest import ARTIFACTS, ROOT, _database_url, wait_for_build
from tests.integration.private_services import free_port, private_workdir, wait_until
from tests.integration.test_build_faults import sleeper_recipe

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def processes_of(run_dir: Path) -> list[int]:
    """Every live process started for this run folder (they all inherit PORTAL_RUN_DIR)."""
    marker = f"PORTAL_RUN_DIR={run_dir}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass  # gone meanwhile
    return found


class SupervisedStack:
    def __init__(self, run_dir: Path, env: dict):
        self.run_dir, self.env = run_dir, env
        self.port = int(env["PORTAL_BIND"].rsplit(":", 1)[1])
        self.url = f"http://{env['PORTAL_BIND']}"
        self.script: subprocess.Popen | None = None

    def supervisord_pid(self) -> int | None:
        try:
            return int((self.run_dir / "supervisord.pid").read_text())
        except (OSError, ValueError):
            return None

    def start(self) -> "SupervisedStack":
        """Start the script and wait for its own supervisord's web to answer (an earlier one may still)."""
        earlier = self.supervisord_pid()
        log = open(self.run_dir / "script.log", "a")
        self.script = subprocess.Popen([str(ROOT / "scripts" / "run-portal.sh")], cwd=ROOT, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        wait_until(lambda: self.script.poll() is not None or (self.supervisord_pid() not in (None, earlier) and self.answers()),
                   60, f"the portal answering on {self.url}")
        assert self.script.poll() is None, f"run-portal.sh exited:\n{self.script_log()[-3000:]}"
        return self

    def answers(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def ctl(self, *args: str) -> str:
        result = subprocess.run([str(ROOT / ".venv" / "bin" / "supervisorctl"), "-c", str(ROOT / "deploy" / "supervisord.conf"),
                                 *args], env=self.env, capture_output=True, text=True, timeout=30)
        return result.stdout

    def pid(self, program: str) -> int:
        return int(self.ctl("pid", program).strip())

    def script_log(self) -> str:
        return (self.run_dir / "script.log").read_text()

    def stop(self) -> None:
        if self.script and self.script.poll() is None:
            self.script.send_signal(signal.SIGTERM)
            self.script.wait(timeout=90)

    def kill_everything(self) -> None:
        """Only for a failed test: what this run folder started, by pid."""
        for pid in processes_of(self.run_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def stack(private_broker, django_db_setup):
    from django.db import connection

    run_dir = private_workdir("supervised")
    env = {**os.environ, "PORTAL_RUN_DIR": str(run_dir), "PORTAL_BIND": f"127.0.0.1:{free_port()}",
           "STATIC_ROOT": str(run_dir / "static"), "DATABASE_URL": _database_url(connection.settings_dict),
           "CELERY_BROKER_URL": private_broker.url, "PORTAL_WORKER_NAME": f"supervised-{uuid.uuid4().hex[:8]}@%h",
           "PORTAL_WORKER_CONCURRENCY": "1", "PORTAL_WEB_WORKERS": "1",
           "PORTAL_HOUSEKEEPING_NAME": f"housekeeping-{uuid.uuid4().hex[:8]}@%h"}
    supervised = SupervisedStack(run_dir, env).start()
    try:
        yield supervised
    finally:
        supervised.stop()
        supervised.kill_everything()
        ARTIFACTS.mkdir(exist_ok=True)
        for log in (run_dir / "log").glob("*.log"):
            (ARTIFACTS / f"supervised-{log.name}").write_bytes(log.read_bytes())
        shutil.rmtree(run_dir, ignore_errors=True)


def worker_answers(name: str) -> bool:
    from portal.celery import app

    return bool(app.control.ping(destination=[name], timeout=0.5))


def test_a_killed_worker_is_restarted_and_takes_the_next_build(starter_catalog, stack, team, member):
    worker = stack.env["PORTAL_WORKER_NAME"].replace("%h", socket.gethostname())
    wait_until(lambda: worker_answers(worker), 60, "the supervised worker answering a ping")
    status = stack.ctl("status")
    assert all(f"{program}" in status for program in ("web", "worker", "housekeeping", "beat")) \
        and status.count("RUNNING") == 4, status
    beat = stack.pid("beat")

    killed = stack.pid("worker")
    os.kill(killed, signal.SIGKILL)
    started = time.monotonic()
    wait_until(lambda: worker_answers(worker), 30, "the worker answering again after SIGKILL")
    recovered = time.monotonic() - started
    print(f"\nworker back {recovered:.1f} s after SIGKILL")
    assert stack.pid("worker") != killed
    assert stack.pid("beat") == beat, "beat is a program of its own: the worker's death did not touch it"

    build = build_request(user=member, recipe=sleeper_recipe(team, member, "after-kill", 0), no_cache=True)
    wait_for_build(build, timeout=90)
    assert build.status == Build.Status.SUCCEEDED, f"{build.error_message}\n{stack.script_log()[-3000:]}"
    assert f"build={build.pk} " in (stack.run_dir / "log" / "worker.log").read_text(), "worker lines name the build"

    # The web program is gunicorn with WhiteNoise, ready and measured.
    assert requests.get(stack.url + "/static/js/portal.js", timeout=5).status_code == 200
    ready = requests.get(stack.url + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    metrics = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(requests.get(stack.url + "/metrics", timeout=10).text)
               for s in family.samples}
    assert metrics[("portal_builds", (("status", "succeeded"),))] >= 1
    assert metrics[("portal_broker_up", ())] == 1

    # A rerun while an earlier supervisord is still there (its script was killed -9): stopped first.
    old_supervisord = stack.supervisord_pid()
    old_children = [stack.pid(program) for program in ("web", "worker", "housekeeping", "beat")]
    stack.script.kill()
    stack.script.wait()
    assert processes_of(stack.run_dir), "supervisord and its programs outlived the killed script"
    stack.start()
    assert "stopping the previous run" in stack.script_log()
    alive = set(processes_of(stack.run_dir))
    assert not alive & {old_supervisord, *old_children}, "nothing of the earlier run is left"

    stack.stop()
    assert stack.script.returncode == 143
    assert processes_of(stack.run_dir) == [], "stopping the script stops every process it started"
    assert not stack.answers()
