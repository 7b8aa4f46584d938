"""The test suite's own SIGTERM hook (tests/conftest.py): a run stopped by ``timeout`` tears its fixtures down, so
the servers they started are not left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TEST = """
import subprocess, time, pytest
from pathlib import Path

HERE = Path(__file__).parent

@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen(["sleep", "600"], start_new_session=True)  # as the suite starts its servers
    (HERE / "server.pid").write_text(str(proc.pid))
    yield proc
    proc.kill()
    proc.wait()
    (HERE / "torn-down").write_text("yes")

def test_long(server):
    (HERE / "started").write_text("yes")
    time.sleep(120)
"""


def test_a_run_stopped_by_sigterm_stops_the_servers_its_fixtures_started(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_configure  # noqa: F401\n")
    (tmp_path / "test_long.py").write_text(TEST)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(tmp_path)]
    run = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists():
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "the inner test never started"
            time.sleep(0.2)
        run.send_signal(signal.SIGTERM)
        out, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert (tmp_path / "torn-down").exists(), out
    pid = int((tmp_path / "server.pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
