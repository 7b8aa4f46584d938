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


@pytest.mark.parametrize(
    ("args", "option", "says"),
    [
        (["--days", "inf"], "--days", "366"),
        (["--days", "1e6"], "--days", "366"),
        (["--days", "nan"], "--days", ""),
        (["--days", "0.1", "--step-s", "inf"], "--step-s", "3600"),
        (["--days", "0.1", "--step-s", "1e9"], "--step-s", "3600"),
        (["--days", "0.01", "--step-s", "3600"], "--days", "shorter than one --step-s"),
    ],
)
def test_sim_run_refuses_days_and_steps_it_cannot_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    option: str,
    says: str,
) -> None:
    """inf was a traceback, 1e6 days ran for ever, a step of 1e9 s was refused without naming --step-s."""
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    assert main(["--json", "sim", "run", "--services", "1", *args]) == 2
    out, err = capsys.readouterr()
    error = json.loads(out)["error"]
    assert error["field"] == option and says in error["detail"] and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--speed", "inf"], "--speed"), (["--speed", "nan"], "--speed"), (["--speed", "3601"], "--speed"),
     (["--speed", "0"], "--speed"), (["--step-s", "inf"], "--step-s")],
)  # fmt: skip
def test_sim_serve_refuses_a_speed_it_cannot_keep(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    option: str,
) -> None:
    """--speed inf was taken: the simulation ran for ever under its lock, at full CPU, deaf to SIGTERM."""
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    assert main(["--json", "sim", "serve", "--port", "0", "--services", "1", *args]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["error"]["field"] == option and "Traceback" not in err


def test_sim_run_names_the_trace_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown --trace was refused with field 'trace', the simulation's argument; the valid names stay listed."""
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    assert main(["--json", "sim", "run", "--days", "0.1", "--services", "1", "--trace", "nosuch"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["field"] == "--trace" and error["title"] == "unknown name" and "nasa" in error["valid"]


def test_sim_run_text_shows_short_titles_and_faults_in_words() -> None:
    # the keys were cut to "mean_util…" at 120 columns and each fault printed as a Python dict
    import io

    from rich.console import Console

    from hx.cli.session import Ctx
    from hx.cli.sim import _print

    fault = {"id": "f0001", "kind": "cpu_hog", "service": "frontend", "magnitude": 0.6,
             "injected_at": "2026-01-05T18:42:00+00:00", "healed_at": None, "healed_by": None}  # fmt: skip
    row = {"service": "frontend", "requests": 10, "peak_rps": 1.5, "mean_utilization": 0.2, "peak_utilization": 0.4,
           "p99_latency_s_median": 0.1, "slo_p99_s": 0.25, "slo_violation_minutes": 0.0, "replicas": 2,
           "faults": ["f0001:cpu_hog"]}  # fmt: skip
    out = io.StringIO()
    c = Ctx(console=Console(file=out, width=120))
    _print(c, {"days": 1, "steps": 1440, "step_s": 60.0, "seed": 1, "trace": "nasa", "per_service": [row],
               "faults": [fault]})  # fmt: skip
    text = out.getvalue()
    assert "mean util" in text and "…" not in text and "{'id'" not in text
    assert "fault f0001: cpu_hog on frontend (magnitude 0.6), injected 2026-01-05T18:42:00+00:00, not healed" in text
