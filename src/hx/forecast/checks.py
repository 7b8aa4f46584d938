"""The forecaster contract, shipped with the library so a plugin author can run it on their own forecaster.

``yield_checks()`` yields the checks one by one (the test suite parametrises over every registered forecaster);
``check_forecaster(factory)`` runs them all.  ``factory`` is a zero-argument callable building a fresh, unfitted,
identically configured forecaster (a light config is fine: see ``Forecaster._unit_test_params``).

>>> from hx.forecast import FORECASTERS
>>> check_forecaster(FORECASTERS.get("seasonal_naive"))
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator

import numpy as np

from hx.checks import expect, expect_raises, run_all
from hx.errors import BadInput, ModelError
from hx.forecast.base import Forecaster
from hx.telemetry.base import FloatArray

Factory = Callable[[], Forecaster]
Check = Callable[[Factory], None]

STEP = 900.0  # 15-minute grid: 96 steps a day
HORIZON = 24


def series(days: int = 15, seed: int = 0) -> tuple[FloatArray, FloatArray]:
    """Daily and weekly cycles, noise, a gap, zeros and a spike: what real traces look like."""
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000.0 + STEP * np.arange(int(days * 86400 / STEP), dtype=np.float64)
    daily = np.sin(2 * np.pi * ts / 86400.0)
    weekend = np.where(np.floor(np.mod(ts, 7 * 86400.0) / 86400.0) >= 5, 0.6, 1.0)
    y = weekend * (100.0 + 60.0 * daily) + rng.normal(0, 5, ts.size)
    n = ts.size
    y[n // 3 : n // 3 + 30] = np.nan
    y[n // 2 : n // 2 + 4] = 0.0
    y[2 * n // 3] = 2000.0
    return ts, np.maximum(y, 0.0)


def check_refuses_to_forecast_unfitted(factory: Factory) -> None:
    expect_raises(ModelError, lambda: factory().forecast(4), "forecast() before fit()")


def check_forecast_shape_and_order(factory: Factory) -> None:
    ts, y = series()
    fc = factory().fit(ts, y).forecast(HORIZON)
    expect(len(fc) == HORIZON and fc.mean.shape == fc.lower.shape == fc.upper.shape == (HORIZON,), "horizon length")
    expect(all(bool(np.all(np.isfinite(a))) for a in (fc.mean, fc.lower, fc.upper)), "outputs must be finite")
    expect(bool(np.all(fc.lower <= fc.mean) and np.all(fc.mean <= fc.upper)), "lower <= mean <= upper")
    expect(bool(np.all(fc.mean >= 0)), "a non-negative history must give a non-negative forecast")
    np.testing.assert_allclose(fc.timestamps, ts[-1] + STEP * np.arange(1, HORIZON + 1), err_msg="timestamps")
    q95 = fc.quantile(0.95)
    expect(bool(np.all(np.isfinite(q95)) and np.all(q95 >= fc.mean - 1e-9)), "the 0.95 quantile is >= the mean")


def check_clone_and_determinism(factory: Factory) -> None:
    ts, y = series()
    model = factory().fit(ts, y)
    twin = model.clone()
    expect(twin.get_params() == model.get_params() and not twin.fitted, "clone(): same config, not fitted")
    np.testing.assert_allclose(
        twin.fit(ts, y).forecast(HORIZON).mean, model.forecast(HORIZON).mean, err_msg="same data, same forecast"
    )


def check_state_round_trip(factory: Factory) -> None:
    ts, y = series()
    model = factory().fit(ts, y)
    fc = model.forecast(HORIZON)
    restored = type(model).from_state(pickle.loads(pickle.dumps(model.get_state())))
    np.testing.assert_allclose(restored.forecast(HORIZON).mean, fc.mean)
    np.testing.assert_allclose(restored.forecast(HORIZON).upper, fc.upper)


def check_update_moves_the_origin(factory: Factory) -> None:
    ts, y = series()
    model = factory().fit(ts, y)
    model.update(ts[-1] + STEP * np.array([1.0, 3.0]), np.array([120.0, np.nan]))
    fc = model.forecast(4)
    expect(abs(fc.timestamps[0] - (ts[-1] + 4 * STEP)) < 1e-6, "update() must move the forecast origin")
    expect(bool(np.all(np.isfinite(fc.mean))), "a gap in update() must not make the forecast NaN")


def check_refuses_bad_horizons(factory: Factory) -> None:
    ts, y = series(days=3)
    model = factory().fit(ts, y)
    expect_raises(BadInput, lambda: model.forecast(10**7), "a horizon longer than the history")
    expect_raises(BadInput, lambda: model.forecast(0), "a horizon of 0")


def check_refuses_bad_input(factory: Factory) -> None:
    ts, y = series(days=3)
    dup = ts.copy()
    dup[10] = dup[9]
    expect_raises(BadInput, lambda: factory().fit(ts[::-1], y), "non-monotonic time")
    expect_raises(BadInput, lambda: factory().fit(ts, np.full(ts.size, np.nan)), "nothing but gaps")
    expect_raises(BadInput, lambda: factory().fit(ts[:5], y[:4]), "shapes that differ")
    expect_raises(BadInput, lambda: factory().fit(dup, y), "a repeated timestamp")


def check_short_and_odd_histories_never_give_nan(factory: Factory) -> None:
    ts, y = series(days=3)
    y = y.copy()
    y[-50:] = np.nan  # the recent past is a gap
    y[:20] = 0.0
    fc = factory().fit(ts, y).forecast(8)
    expect(all(bool(np.all(np.isfinite(a))) for a in (fc.mean, fc.lower, fc.upper)), "outputs must be finite")


def yield_checks() -> Iterator[Check]:
    """Every forecaster check."""
    yield check_refuses_to_forecast_unfitted
    yield check_forecast_shape_and_order
    yield check_clone_and_determinism
    yield check_state_round_trip
    yield check_update_moves_the_origin
    yield check_refuses_bad_horizons
    yield check_refuses_bad_input
    yield check_short_and_odd_histories_never_give_nan


def check_forecaster(factory: Factory) -> None:
    """Run every forecaster check on forecasters built by ``factory``; AssertionError on the first broken promise."""
    run_all(yield_checks(), factory)
