from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def test_sim_run_prints_a_summary(tmp_path: Path) -> None:
    env = {**os.environ, "HX_HOME": str(tmp_path)}
    cmd = [
        sys.executable,
        "-m",
        "hx.cli",
        "--json",
        "sim",
        "run",
        "--days",
        "0.5",
        "--services",
        "3",
        "--trace",
        "profile",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["per_service"]) == 3 and data["steps"] == 720
    bad = subprocess.run([*cmd[:5], "--days", "-1"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2


def test_sim_serve_names_a_port_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["sim", "serve", "--services", "1", "--port", str(port)]) == 2
    assert f"127.0.0.1:{port}" in capsys.readouterr().err
