"""`hx detect run|nab` and `hx canary judge` through the real entry point."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def hx(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HX_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "hx.cli", *args], capture_output=True, text=True, env=env, timeout=300)


def _series(path: Path, values: np.ndarray) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        for i, v in enumerate(values):
            w.writerow([1_700_000_000 + 300 * i, f"{v:.5f}"])


def test_detect_run_finds_the_spike_and_names_bad_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = 10 + rng.normal(0, 0.5, 3000)
    values[2500] = 40
    f = tmp_path / "s.csv"
    _series(f, values)
    r = hx(["--json", "detect", "run", str(f), "--out", str(tmp_path / "scores.csv")], tmp_path)
    assert r.returncode == 0, r.stderr
    found = [a["timestamp"] for a in json.loads(r.stdout)["anomalies"]]
    assert 1_700_000_000 + 300 * 2500 in found
    assert (tmp_path / "scores.csv").read_text().startswith("timestamp,value,anomaly_score")
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n1700000000,1\n1700000300,abc\n")
    r = hx(["detect", "run", str(bad)], tmp_path)
    assert r.returncode == 2 and "row" in r.stderr


def test_detect_nab_writes_results_in_nab_layout(tmp_path: Path) -> None:
    data = tmp_path / "corpus" / "data" / "cat"
    data.mkdir(parents=True)
    rng = np.random.default_rng(1)
    with (data / "one.csv").open("w") as fh:
        fh.write("timestamp,value\n")
        for i, v in enumerate(rng.normal(0, 1, 500)):
            fh.write(f"2015-01-01 {i // 60 % 24:02d}:{i % 60:02d}:00,{v:.4f}\n" if i < 1440 else "")
    r = hx(["detect", "nab", "--data", str(tmp_path / "corpus"), "--out", str(tmp_path / "out")], tmp_path)
    assert r.returncode == 0, r.stderr
    out = (tmp_path / "out" / "cat" / "one.csv").read_text().splitlines()
    assert out[0] == "timestamp,value,anomaly_score" and len(out) == 501


def test_canary_judge_exit_codes(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    cfg = tmp_path / "metrics.yml"
    cfg.write_text("metrics:\n  - {name: latency, critical: true}\n  - {name: errors, kind: count}\n")
    for name, scale in (("base", 1.0), ("good", 1.0), ("bad", 1.6)):
        with (tmp_path / f"{name}.csv").open("w") as fh:
            fh.write("latency,errors\n")
            for _ in range(60):
                fh.write(f"{rng.normal(100, 10) * scale:.3f},{rng.poisson(0.5)}\n")
    base = ["canary", "judge", "--baseline", str(tmp_path / "base.csv"), "--config", str(cfg)]
    assert hx([*base, "--canary", str(tmp_path / "good.csv")], tmp_path).returncode == 0
    r = hx(["--json", *base, "--canary", str(tmp_path / "bad.csv")], tmp_path)
    assert r.returncode == 1 and json.loads(r.stdout)["status"] == "fail"
    cfg.write_text("metrics:\n  - {name: latency, direction: sideways}\n")
    r = hx([*base, "--canary", str(tmp_path / "good.csv")], tmp_path)
    assert r.returncode == 2 and "metrics.0.direction" in r.stderr
    cfg.write_text("metrics:\n  - {name: p99}\n")
    r = hx([*base, "--canary", str(tmp_path / "good.csv")], tmp_path)
    assert r.returncode == 2 and "p99" in r.stderr


def test_canary_judge_fails_a_gross_regression_on_one_metric_of_four_and_never_passes_too_little_data(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    cfg = tmp_path / "metrics.yml"
    cfg.write_text("metrics:\n  - {name: latency}\n  - {name: cpu}\n  - {name: memory}\n  - {name: saturation}\n")
    for n in (5, 10):
        for name, lat in (("base", 100.0), ("bad", 1000.0)):
            with (tmp_path / f"{name}{n}.csv").open("w") as fh:
                fh.write("latency,cpu,memory,saturation\n")
                for _ in range(n):
                    fh.write(f"{lat * rng.uniform(0.95, 1.05):.2f},{rng.normal(50, 5):.2f},{rng.normal(60, 3):.2f},"
                             f"{rng.normal(0.4, 0.05):.3f}\n")  # fmt: skip
        args = ["canary", "judge", "--baseline", str(tmp_path / f"base{n}.csv"), "--config", str(cfg)]
        # +900 % on one metric of four scores 75 ("marginal"), but a guard failed: the canary fails
        r = hx(["--json", *args, "--canary", str(tmp_path / f"bad{n}.csv")], tmp_path)
        out = json.loads(r.stdout)
        assert r.returncode == 1 and out["status"] == "fail" and out["score"] == 75.0, (n, r.stdout[-500:])
        assert any(x.startswith("guard failed") and "latency" in x for x in out["reasons"])
    short = tmp_path / "short.csv"
    short.write_text("latency,cpu,memory,saturation\n" + "100,50,60,0.4\n" * 3)
    args = ["canary", "judge", "--baseline", str(tmp_path / "base5.csv"), "--config", str(cfg)]
    r = hx([*args, "--canary", str(short)], tmp_path)
    assert r.returncode == 3 and "inconclusive" in r.stdout  # too little data is never a pass
    header = tmp_path / "header.csv"
    header.write_text("latency,cpu,memory,saturation\n\n")
    r = hx([*args, "--canary", str(header)], tmp_path)
    assert r.returncode == 2 and "header.csv: no data rows" in r.stderr, r.stderr


def test_detect_run_names_an_out_path_it_cannot_write(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    _series(f, np.arange(20.0))
    (tmp_path / "blocker").write_text("")
    r = hx(["detect", "run", str(f), "--out", str(tmp_path / "blocker" / "scores.csv")], tmp_path)
    assert r.returncode == 2 and "--out" in r.stderr and "blocker" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_detect_nab_refuses_a_corpus_in_the_wrong_layout_before_creating_out(tmp_path: Path) -> None:
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "one.csv").write_text("timestamp,value\n")
    r = hx(["detect", "nab", "--data", str(tmp_path / "flat"), "--out", str(tmp_path / "out")], tmp_path)
    assert r.returncode == 2 and "no data/ folder" in r.stderr
    assert not (tmp_path / "out").exists()
