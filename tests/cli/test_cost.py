from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


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


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("timestamp,cpu,memory_gib\n1,0.5,2\n2,0.5\n", ["row 3", "memory_gib"]),
        ("timestamp,cpu,memory_gib\n1,0.5,2\n2,abc,2\n", ["row 3", "cpu", "'abc'"]),
        ("timestamp,cpu,memory_gib\n1,0.5,2\n2,-0.5,2\n", ["row 3", "cpu", "negative"]),
        ("timestamp,cpu,memory_gib\n", ["no usage rows"]),
    ],
)
def test_cost_rightsize_names_the_bad_row_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str, named: list[str]
) -> None:
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    f = tmp_path / "usage.csv"
    f.write_text(text)
    assert main(["--json", "cost", "rightsize", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and all(n in err for n in named), err


def test_cost_rightsize_refuses_a_file_that_is_not_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hx.cli.main import main

    monkeypatch.setenv("HX_HOME", str(tmp_path))
    f = tmp_path / "usage.csv"
    f.write_bytes(b"\xff\xfe\x00timestamp")
    assert main(["cost", "rightsize", str(f)]) == 2
    assert str(f) in capsys.readouterr().err
