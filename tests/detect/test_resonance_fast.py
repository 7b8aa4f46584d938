"""The resonance member's fast streaming path gives the general path's scores and state, bit for bit."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from hx.detect.resonance import Resonance
from hx.detect.validate import read_series_csv


def _mixed(n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """A rhythm, a flat stretch, noise and spikes: enough distinct patterns to fill the 256 categories."""
    rng = np.random.default_rng(7)
    i = np.arange(n)
    v = np.sin(i / 15.0) * 5.0 + 20.0
    v[1200:1800] = 20.0
    v[2500:] += rng.normal(0.0, 2.0, n - 2500)
    v[[900, 2000, 3300, 3301]] += (30.0, -25.0, 40.0, 40.0)
    return v, i * 60.0


def _general(values: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, Resonance]:
    det = Resonance()
    out = np.zeros(len(values))
    for k, (x, t) in enumerate(zip(values.tolist(), times.tolist(), strict=True)):
        out[k] = det.score_one(x, t)
        det.learn_one(x, t)
    return out, det


def _same(values: np.ndarray, times: np.ndarray) -> Resonance:
    slow, ref = _general(values, times)
    fast = Resonance()
    scores = fast.process(values, times)
    assert np.array_equal(scores, slow)
    assert fast._k == ref._k
    assert np.array_equal(fast._w[: fast._k], ref._w[: ref._k])
    assert np.array_equal(fast._wsum[: fast._k], ref._wsum[: ref._k])
    assert (fast._rho_lb, fast._rho_ub) == (ref._rho_lb, ref._rho_ub)
    return fast


def test_the_fast_path_is_the_general_path_bit_for_bit() -> None:
    det = _same(*_mixed())
    assert det._k == det.max_categories  # the full-learner (least recently used) branch ran too


def test_the_fast_path_is_the_general_path_on_a_small_nab_file() -> None:
    root = os.environ.get("HX_DATA_DIR")
    path = Path(root or "/nonexistent") / "nab" / "data" / "realAdExchange" / "exchange-2_cpc_results.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not in HX_DATA_DIR")
    series = read_series_csv(path, strict_order=False)
    _same(series.values, series.timestamps)


def test_snapshots_carry_no_scratch_and_old_ones_load() -> None:
    v, t = _mixed()
    det = Resonance()
    det.process(v[:3000], t[:3000])
    state = det.__getstate__()
    assert not {"_fbuf", "_mbuf", "_best"} & set(state)
    old = Resonance.__new__(Resonance)
    old.__dict__.update(state)  # a snapshot pickled before the scratch buffers existed
    copy = pickle.loads(pickle.dumps(old))
    assert np.array_equal(copy.process(v[3000:], t[3000:]), det.process(v[3000:], t[3000:]))
