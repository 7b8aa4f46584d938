"""``hx lab`` without a running lab: clear errors and exit codes (the lab: tests/integration/test_lab_fleet.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HX = [sys.executable, "-m", "hx.cli"]


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        HX + args, capture_output=True, text=True, env={**os.environ, "HX_HOME": str(home)}, timeout=120
    )


def test_status_without_a_lab_says_how_to_start_one(tmp_path: Path) -> None:
    r = run(["lab", "status", "--lab-dir", str(tmp_path / "lab")], tmp_path)
    assert r.returncode == 1 and "hx lab up" in r.stderr


def test_down_without_a_lab_stops_nothing(tmp_path: Path) -> None:
    r = run(["--json", "lab", "down", "--lab-dir", str(tmp_path / "lab")], tmp_path)
    assert r.returncode == 0 and '"stopped": []' in r.stdout


def test_bad_options_are_bad_input(tmp_path: Path) -> None:
    r = run(["lab", "up", "--lab-dir", str(tmp_path / "lab"), "--rps", "0"], tmp_path)
    assert r.returncode == 2 and "--rps" in r.stderr
    r = run(["lab", "up", "--lab-dir", str(tmp_path / "lab"), "--workers", "65"], tmp_path)
    assert r.returncode == 2 and "--workers 65" in r.stderr
