"""Robust seasonal estimation: a dropout or an outage must not poison Holt-Winters (issue 18, part 4)."""

from __future__ import annotations

import numpy as np
import pytest

from hx.forecast import HoltWinters, SeasonalNaive, mase_scale, rolling_forecasts
from hx.forecast.backtest import RollingResult
from hx.forecast.base import Forecaster, range_excess
from hx.forecast.holt_winters import robust_holt_filter
from hx.forecast.seasonal import SeasonalProfile, binned_median, mad_outliers
from hx.forecast.series import clean_history
from tests.support.forecasters import fixed

DAY_MIN = 1440


def dropout_trace(days: int = 16, drift_min: float = 0.0, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per-minute events around 2,500/min with a daily cycle and a daily 29-minute near-zero dropout.

    ``drift_min``: how many minutes later the dropout starts each day (0: always at 03:07 UTC).
    """
    rng = np.random.default_rng(seed)
    ts = 1_700_006_400.0 + 60.0 * np.arange(days * DAY_MIN, dtype=np.float64)
    y = 2500.0 * (1 + 0.4 * np.sin(2 * np.pi * ts / 86400.0)) * rng.lognormal(0.0, 0.05, ts.size)
    day = np.floor((ts - ts[0]) / 86400.0)
    start = 3 * 3600.0 + 7 * 60.0 + 60.0 * drift_min * day
    ph = np.mod(ts, 86400.0)
    drop = (ph >= start) & (ph < start + 29 * 60.0)
    y[drop] = rng.uniform(0.0, 3.0, int(drop.sum()))
    return clean_history(ts, y, 300.0)


def backtest(model: Forecaster, t: np.ndarray, y: np.ndarray, days: int = 2) -> tuple[RollingResult, float]:
    start = y.shape[0] - days * 288
    return rolling_forecasts(model, t, y, start, y.shape[0], 12, every=2), mase_scale(y[:start], 288)


@pytest.mark.parametrize("drift_min", [0.0, 37.0])
def test_a_daily_dropout_leaves_holt_winters_plausible_and_as_good_as_seasonal_naive(drift_min: float) -> None:
    t, y = dropout_trace(drift_min=drift_min)
    hw, scale = backtest(HoltWinters(), t, y)
    sn, _ = backtest(SeasonalNaive(), t, y)
    assert not hw.fell_back.any(), "the guard must not be needed"
    assert hw.guard_summary()["max_range_excess"] < 0.5  # not 10x: within half a range of the history
    assert float(np.nanmax(hw.pred)) < 1.5 * float(np.nanmax(y))
    hw_mase, sn_mase = hw.errors_at(12, scale)[1], sn.errors_at(12, scale)[1]
    assert hw_mase <= 1.05 * sn_mase, (hw_mase, sn_mase)


def test_without_the_robust_updates_the_moving_dropout_poisons_holt_winters() -> None:
    """The same trace through the classical (non-robust) recursion: what the robust one fixes."""
    t, y = dropout_trace(drift_min=37.0)
    robust, scale = backtest(HoltWinters(), t, y)
    plain, _ = backtest(HoltWinters(robust=False), t, y)
    assert plain.errors_at(12, scale)[1] > 2 * robust.errors_at(12, scale)[1]
    assert float(np.nanmax(plain.pred)) > float(np.nanmax(robust.pred))


def test_an_outage_day_does_not_move_the_robust_seasonal_factors() -> None:
    ts = 3600.0 * np.arange(24 * 10, dtype=np.float64)
    z = 5.0 + np.sin(2 * np.pi * ts / 86400.0)
    hit = z.copy()
    hit[24 * 4 : 24 * 4 + 9] = 0.0  # a 9-hour outage on day 5
    clean = SeasonalProfile.fit(ts, z, 3600.0, use_weekly=False, robust=True)
    robust = SeasonalProfile.fit(ts, hit, 3600.0, use_weekly=False, robust=True)
    plain = SeasonalProfile.fit(ts, hit, 3600.0, use_weekly=False)
    assert clean is not None and robust is not None and plain is not None
    assert np.abs(robust.daily - clean.daily).max() < 0.05
    assert np.abs(plain.daily - clean.daily).max() > 0.2  # the mean-based profile is poisoned


def test_robust_holt_filter_bounds_a_dropout_and_follows_a_real_shift() -> None:
    e = np.full(60, 8.0)
    e[20:26] = 0.0  # six steps near zero (in log space)
    lv, _tr, clean, _s = robust_holt_filter(e, 0.5, 0.1, 0.95, 8.0, 0.0, 0.05, shift_n=9)
    assert lv.min() > 7.5 and np.abs(lv[30:] - 8.0).max() < 0.05
    assert np.all(clean[20:26] > 7.5)
    shift = np.concatenate([np.full(30, 8.0), np.full(30, 9.0)])
    lv, _tr, _c, _s = robust_holt_filter(shift, 0.5, 0.1, 0.95, 8.0, 0.0, 0.05, shift_n=9)
    assert abs(lv[-1] - 9.0) < 0.05 and lv[35] < 8.8  # adopted only once it persisted


def test_binned_median_and_mad_outliers() -> None:
    v = np.array([1.0, 100.0, 2.0, 3.0, 4.0, np.nan])
    assert binned_median(v, np.array([0, 0, 0, 1, 1, 1]), 3).tolist() == [2.0, 3.5, 0.0]
    r = np.array([0.0, 0.1, -0.1, 0.05, -0.05, 9.0, np.nan])
    assert mad_outliers(r).tolist() == [False, False, False, False, False, True, False]


def test_range_excess_is_in_ranges_of_the_history() -> None:
    h = np.array([100.0, 200.0])
    assert range_excess(h, np.array([150.0])) == 0.0
    assert range_excess(h, np.array([2200.0])) == pytest.approx(10.0)
    assert range_excess(h, np.array([-300.0])) == pytest.approx(2.0)


def test_rolling_forecasts_report_how_often_the_guard_fired() -> None:
    exploding = fixed("exploding", 46_115.0, 46_115.0, 46_115.0)
    t = 1.7e9 + 300.0 * np.arange(3 * 288, dtype=np.float64)
    y = 2500 + 500 * np.sin(2 * np.pi * np.arange(t.size) / 288)
    r = rolling_forecasts(exploding(step=300.0), t, y, t.size - 10, t.size, 3)
    summary = r.guard_summary()
    assert summary["guard_fired"] == 10 and summary["max_range_excess"] == pytest.approx((46_115 - 3000) / 3000)
    assert float(r.pred.max()) <= 3000.0 + 1e-9  # what was used is the seasonal naive
