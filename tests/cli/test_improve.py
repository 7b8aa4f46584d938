from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _hx(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HX_HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "hx.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip


def test_improve_cycle_kpis_and_report(tmp_path: Path) -> None:
    r = _hx(tmp_path, "--json", "improve", "cycle")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["passed"] and {g["status"] for g in report["gates"]} == {"no_data"}
    assert {m["model"] for m in report["models"]} == {"deploy-strategy", "heal.incident_classifier"}
    r = _hx(tmp_path, "--json", "improve", "kpis")
    assert r.returncode == 0 and "deploy.change_failure_rate" in json.loads(r.stdout)
    r = _hx(tmp_path, "improve", "report")
    assert r.returncode == 0 and "pass" in r.stdout
    r = _hx(tmp_path, "improve", "gates")
    assert r.returncode == 0 and "MTTR: no data: no reactive incident" in " ".join(r.stdout.split()), r.stdout


def test_a_failing_gate_exits_1_and_an_unknown_kpi_exits_2(tmp_path: Path) -> None:
    r = _hx(tmp_path, "--set", "continuous_improvement.quality_gates=[{name: x, metric: heal.open_incidents, max: -1}]",
            "improve", "gates")  # fmt: skip
    assert r.returncode == 1, r.stderr + r.stdout
    assert "fail" in r.stdout
    r = _hx(tmp_path, "--set", "continuous_improvement.quality_gates=[{name: x, metric: heal.mtbf, max: 1}]",
            "improve", "gates")  # fmt: skip
    assert r.returncode == 2
    assert "continuous_improvement.quality_gates.0.metric" in r.stderr and "heal.mttr_median_s" in r.stderr
