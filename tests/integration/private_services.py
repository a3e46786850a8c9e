"""Private, throw-away instances of Redis, the registry and PostgreSQL for fault tests.

Fault tests stop and restart these services; the shared ones on the standard ports serve other
test runs at the same time and must never be touched. Each instance listens on a free loopback
port, keeps its data in a temporary directory and is removed at the end. A missing binary FAILS
the test with the command that installs it (never a skip).
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

INSTALL_HINT = "`make test` (scripts/ensure-services.sh --with-db) installs it"


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian keeps them per major version)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not found:
        pytest.fail(f"PostgreSQL's initdb is missing (Debian package postgresql); {INSTALL_HINT}", pytrace=False)
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_binary(path: str, package: str) -> str:
    found = shutil.which(path) if "/" not in path else (path if os.access(path, os.X_OK) else None)
    if not found:
        pytest.fail(f"{path} is missing (Debian package {package}); {INSTALL_HINT}", pytrace=False)
    return found


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:g} s", pytrace=False)
        time.sleep(0.1)


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class _Process:
    """A server process we started (and only we stop); its output goes to a log file."""

    def __init__(self, name: str, workdir: Path):
        self.name, self.workdir = name, workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / f"{name}.log"

    def _spawn(self, argv, **kwargs) -> None:
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)
        log.close()

    def stop(self) -> None:
        """SIGTERM and wait; this instance keeps nothing in memory worth saving."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        wait_until(lambda: not port_open(self.port), 10, f"{self.name} releasing port {self.port}")

    def remove(self) -> None:
        """Stop, then delete the data directory: nothing of it may outlive the test module."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text()[-2000:]
        except OSError:
            return ""


class PrivateRedis(_Process):
    """redis-server with no persistence at all: a restart loses every queued message."""

    def __init__(self, workdir: Path):
        super().__init__("redis", workdir)
        self.binary = require_binary("redis-server", "redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self._spawn([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(self.workdir)])
        wait_until(lambda: port_open(self.port), 15, f"private redis-server answering on port {self.port}")
        return self


class PrivateRegistry(_Process):
    """Debian's Distribution registry storing blobs in the temporary directory: without auth, or,
    given `token_auth` (realm, service, issuer, rootcertbundle), with Distribution's token auth."""

    def __init__(self, workdir: Path, token_auth: dict | None = None):
        super().__init__("registry", workdir)
        self.binary = require_binary("/usr/bin/docker-registry", "docker-registry")
        self.config = workdir / "registry.yml"
        auth = "" if not token_auth else "auth:\n  token:\n" + "".join(f"    {k}: {v}\n" for k, v in token_auth.items())
        self.config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {workdir / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n" + auth)
        self.token_auth = token_auth

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def answers(self) -> bool:
        try:
            return requests.get(self.url + "/v2/", timeout=1).status_code == (401 if self.token_auth else 200)
        except requests.RequestException:
            return False

    def start(self) -> "PrivateRegistry":
        self._spawn([self.binary, "serve", str(self.config)])
        wait_until(self.answers, 15, f"private registry answering on {self.url}\n{self.log_tail()}")
        return self

    def repositories(self) -> list[str]:
        return requests.get(self.url + "/v2/_catalog", timeout=5).json().get("repositories") or []


class PrivatePostgres(_Process):
    """A PostgreSQL cluster of our own (initdb in a temporary directory, trust auth), run as
    the `postgres` OS user because the server refuses to run as root."""

    def __init__(self, workdir: Path):
        super().__init__("postgres", workdir)
        self.bin = postgres_bin()
        for tool in ("initdb", "pg_ctl", "postgres", "createdb"):
            require_binary(str(self.bin / tool), "postgresql")
        require_binary("runuser", "util-linux")
        self.data = workdir / "data"
        # The server runs as `postgres`, which cannot enter root's pytest temporary directories.
        shutil.chown(workdir, "postgres", "postgres")
        os.chmod(workdir, 0o755)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/portal"

    def _as_postgres(self, *argv, timeout=120) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(argv)} failed: {result.stdout}{result.stderr}", pytrace=False)

    def init(self) -> "PrivatePostgres":
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> "PrivatePostgres":
        # fsync off: a throw-away cluster; a clean stop (-m fast) still writes everything out.
        options = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log_path),
                          "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        wait_until(lambda: not port_open(self.port), 10, f"PostgreSQL releasing port {self.port}")

    def create_database(self, name: str = "portal") -> None:
        self._as_postgres(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)


def private_workdir(prefix: str) -> Path:
    """A temporary directory outside pytest's root-only tree (the postgres user must enter it)."""
    return Path(tempfile.mkdtemp(prefix=f"portal-{prefix}-"))


class repointed_celery:
    """Point this test process's Celery app (what `build_request` sends with) at another broker,
    and back afterwards; the pooled connections to the old broker are dropped both ways."""

    def __init__(self, broker_url: str):
        self.broker_url = broker_url

    @staticmethod
    def _switch(url: str | None) -> None:
        from kombu import pools

        from portal.celery import app

        # kombu keeps one pool per broker URL process-wide: close and forget them all, or the pool of
        # the URL we come back to would be found closed ("Acquire on closed pool").
        pools.reset()
        # Celery reads CELERY_BROKER_URL from the environment before any setting.
        if url is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = url
        app._after_fork()  # forgets the connection and producer pools, as after a fork

    def __enter__(self):
        self.previous = os.environ.get("CELERY_BROKER_URL")
        self._switch(self.broker_url)
        return self

    def __exit__(self, *exc_info):
        self._switch(self.previous)


def start_worker(*, env: dict, log_path: Path, queues: str = "builds,scans,default", concurrency: int = 1,
                 beat_schedule: Path | None = None) -> tuple[subprocess.Popen, str]:
    """A real Celery worker subprocess (with the beat scheduler inside when `beat_schedule` is
    given, so the periodic reaper runs as in production). Waits until it answers a ping through
    the broker this process currently uses; returns (process, worker name)."""
    import sys
    import uuid

    from portal.celery import app
    from tests.conftest import ROOT

    name = f"faults-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    argv = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queues, "--concurrency", str(concurrency),
            "--loglevel", "INFO", "--hostname", name, "--without-gossip", "--without-mingle"]
    if beat_schedule:
        argv += ["--beat", "--schedule", str(beat_schedule)]
    log = open(log_path, "w")
    # Its own session, so stopping it also stops the children it forks (pool, embedded beat).
    process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[name], timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_worker(process)
            pytest.fail(f"The Celery worker did not start; see {log_path}", pytrace=False)
    return process, name


def stop_worker(process: subprocess.Popen) -> None:
    """Warm shutdown of the worker, then make sure none of its children outlive it."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the group we created for it in start_worker
    except ProcessLookupError:
        pass
