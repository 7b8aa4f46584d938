from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


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
