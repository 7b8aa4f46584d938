"""bench/ops_kpi.py: labelled runs become NAB-style windows; the off-the-shelf baselines are causal."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ops_kpi.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ops_kpi_bench", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_labelled_runs_become_widened_merged_windows() -> None:
    ops = _bench()
    label = np.zeros(1000, dtype=np.int64)
    label[100:103] = 1
    label[500] = 1
    label[520] = 1
    lab = ops.windows_of(label)
    # three runs: each widened to 10 % of 1000 / 3 = 33 rows; the two near 500 overlap and merge
    assert len(lab.windows) == 2
    (a, b), (c, d) = lab.windows
    assert a <= 100 and b >= 102 and b - a + 1 >= 33
    assert c <= 500 and d >= 520
    assert ops.windows_of(np.zeros(50, dtype=np.int64)).windows == ()


def test_the_baselines_do_not_look_ahead() -> None:
    ops = _bench()
    rng = np.random.default_rng(0)
    v = rng.normal(0, 1, 800)
    t = np.arange(800) * 60.0
    full = ops.Series("k", "f", t, v, np.zeros(800, dtype=np.int64))
    v2 = v.copy()
    v2[700:] = 1e6  # the future changes; the past's scores must not
    cut = ops.Series("k", "f", t, v2, np.zeros(800, dtype=np.int64))
    for run in (ops.robust_z, ops.half_space_trees):
        np.testing.assert_array_equal(run(full)[:700], run(cut)[:700])
