"""scripts/run-portal.sh refuses, saying why, when something else holds the portal's port."""
import os
import socket
import subprocess

from tests.conftest import ROOT


def test_it_names_the_program_holding_the_port(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = subprocess.run([str(ROOT / "scripts" / "run-portal.sh")], cwd=ROOT, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PORTAL_RUN_DIR": str(tmp_path), "PORTAL_BIND": f"127.0.0.1:{port}"})
    assert result.returncode == 1
    assert f"Port {port} is taken by another program" in result.stderr
    assert f"pid={os.getpid()}" in result.stderr, "it names the holder (this test process)"
    assert not (tmp_path / "supervisord.pid").exists(), "nothing was started"
