from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def test_cost_rightsize_from_a_usage_export(tmp_path: Path) -> None:
    f = tmp_path / "usage.csv"
    t = np.arange(0, 2 * 86400.0, 300.0)
    lines = ["timestamp,workload,cpu,memory_gib"]
    for w, level in (("api", 0.5), ("db", 2.0)):
        lines += [f"{ts:.0f},{w},{level + 0.1 * np.sin(ts / 7000):.4f},{level * 2:.3f}" for ts in t]
    f.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "HX_HOME": str(tmp_path)}
    run = [sys.executable, "-m", "hx.cli", "--json", "cost", "rightsize", str(f), "--current-cpu", "8"]
    r = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    recs = {x["workload"]: x for x in json.loads(r.stdout)}
    assert recs["api"]["cpu"] < recs["db"]["cpu"] < 8
    f.write_text("timestamp,cpu\n1,2\n")
    r = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "memory_gib" in r.stderr
