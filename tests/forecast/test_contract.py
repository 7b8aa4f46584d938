"""One parametrized contract over every registered forecaster (river's habit: tests for free)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from hx.errors import BadInput, ModelError
from hx.forecast import FORECASTERS, Forecaster

STEP = 900.0  # 15-minute grid: 96 steps a day


def series(days: int = 15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Daily and weekly cycles, noise, a gap, zeros and a spike: what real traces look like."""
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000.0 + STEP * np.arange(int(days * 86400 / STEP))
    daily = np.sin(2 * np.pi * ts / 86400.0)
    weekend = np.where(np.floor(np.mod(ts, 7 * 86400.0) / 86400.0) >= 5, 0.6, 1.0)
    y = weekend * (100.0 + 60.0 * daily) + rng.normal(0, 5, ts.size)
    n = ts.size
    y[n // 3 : n // 3 + 30] = np.nan
    y[n // 2 : n // 2 + 4] = 0.0
    y[2 * n // 3] = 2000.0
    return ts, np.maximum(y, 0.0)


def build(name: str) -> Forecaster:
    if name == "lstm":
        pytest.importorskip("torch")
    cls = FORECASTERS.get(name)
    return cls(**cls._unit_test_params())


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return series()


@pytest.mark.parametrize("name", FORECASTERS.names())
def test_contract(name: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    ts, y = data
    model = build(name)
    assert model.name == name
    with pytest.raises(ModelError):
        model.forecast(4)
    model.fit(ts, y)
    h = 24
    fc = model.forecast(h)
    # horizon length, finite outputs, ordered interval, timestamps after the history
    assert len(fc) == h and fc.mean.shape == fc.lower.shape == fc.upper.shape == (h,)
    for a in (fc.mean, fc.lower, fc.upper):
        assert np.all(np.isfinite(a))
    assert np.all(fc.lower <= fc.mean) and np.all(fc.mean <= fc.upper)
    assert np.all(fc.mean >= 0)  # non-negative history -> non-negative forecast
    np.testing.assert_allclose(fc.timestamps, ts[-1] + STEP * np.arange(1, h + 1))
    q95 = fc.quantile(0.95)
    assert np.all(np.isfinite(q95)) and np.all(q95 >= fc.mean - 1e-9)
    # clone: same config, not fitted
    c = model.clone()
    assert c.get_params() == model.get_params() and not c.fitted
    # determinism: a fresh fit on the same data gives the same forecast
    np.testing.assert_allclose(c.fit(ts, y).forecast(h).mean, fc.mean)
    # state round trip through pickle
    restored = type(model).from_state(pickle.loads(pickle.dumps(model.get_state())))
    np.testing.assert_allclose(restored.forecast(h).mean, fc.mean)
    np.testing.assert_allclose(restored.forecast(h).upper, fc.upper)
    # update absorbs new points (a gap included) and moves the origin
    new_ts = ts[-1] + STEP * np.array([1.0, 3.0])
    model.update(new_ts, np.array([120.0, np.nan]))
    fc2 = model.forecast(4)
    assert fc2.timestamps[0] == pytest.approx(ts[-1] + 4 * STEP)
    assert np.all(np.isfinite(fc2.mean))
    # a horizon longer than the history is refused
    with pytest.raises(BadInput):
        model.forecast(10**7)
    with pytest.raises(BadInput):
        model.forecast(0)


@pytest.mark.parametrize("name", FORECASTERS.names())
def test_bad_input(name: str) -> None:
    model = build(name)
    ts, y = series(days=3)
    with pytest.raises(BadInput):
        model.fit(ts[::-1], y)  # non-monotonic time
    with pytest.raises(BadInput):
        model.fit(ts, np.full(ts.size, np.nan))  # nothing to learn from
    with pytest.raises(BadInput):
        model.fit(ts[:5], y[:4])  # shapes differ
    dup = ts.copy()
    dup[10] = dup[9]
    with pytest.raises(BadInput):
        model.fit(dup, y)


@pytest.mark.parametrize("name", FORECASTERS.names())
def test_short_and_odd_histories_never_give_nan(name: str) -> None:
    model = build(name)
    ts, y = series(days=3)
    y = y.copy()
    y[-50:] = np.nan  # the recent past is a gap
    y[:20] = 0.0
    fc = model.fit(ts, y).forecast(8)
    assert np.all(np.isfinite(fc.mean)) and np.all(np.isfinite(fc.lower)) and np.all(np.isfinite(fc.upper))


def test_registry_lists_the_models() -> None:
    assert {"naive", "seasonal_naive", "holt_winters", "gbt", "lstm", "combination"} <= set(FORECASTERS.names())
