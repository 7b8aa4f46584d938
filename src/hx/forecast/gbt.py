"""Gradient-boosted trees on lag and calendar features (direct multi-horizon, quantile loss).

One scikit-learn ``HistGradientBoostingRegressor`` per quantile (the median for the point forecast,
and the two ends of the interval), trained on rows ``(origin t, horizon h)``: the horizon is a
feature, so one model serves every step ahead without feeding forecasts back in.  The target is the
value at ``t + h`` minus the recent level at ``t`` (in ``log1p`` space for non-negative series), so
the trees learn shapes rather than absolute levels and carry over to level shifts.

Features (all known at the origin, no look-ahead): the last few values and short/long means relative
to the level; the values around the same time of day and of week before the target (the most recent
ones at or before the origin) and how they moved from the same origin time on that day; the learnt
daily/weekly seasonal profile at the target relative to the origin; hour of day, day of week (only
with at least two weeks of history, as for the weekly profile), and the horizon.  Gaps are NaN
features, which the trees route natively.

Training and prediction run with one OpenMP thread: on small machines (2 vCPUs) scikit-learn's
OpenMP pool spends most of its time spinning and is ten times slower than a single thread.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import ThreadpoolController

from hx.forecast.base import DAY_S, FORECASTERS, WEEK_S, FloatArray, Forecaster, one_range_bounds
from hx.forecast.seasonal import SeasonalProfile, rolling_nanmean

IntArray = npt.NDArray[np.int64]

#: the day-of-week feature needs every weekday seen at least twice; on a shorter history it is only
#: a day counter, and a target day never seen in training (or seen once) falls on an arbitrary split
WEEKDAY_MIN_S = 2 * WEEK_S


@functools.cache
def _threads() -> ThreadpoolController:
    return ThreadpoolController()


def _gather(z: FloatArray, idx: IntArray, last: IntArray) -> FloatArray:
    """``z[idx]`` where ``0 <= idx <= last`` (row-wise), NaN elsewhere."""
    ok = (idx >= 0) & (idx <= last.reshape(-1, *([1] * (idx.ndim - 1))))
    out = np.full(idx.shape, np.nan)
    out[ok] = z[idx[ok]]
    return out


def _nanmean_rows(a: FloatArray) -> FloatArray:
    ok = ~np.isnan(a)
    c = ok.sum(axis=1)
    s = np.where(ok, a, 0.0).sum(axis=1)
    return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def _ffill(x: FloatArray) -> FloatArray:
    ok = ~np.isnan(x)
    idx = np.where(ok, np.arange(x.shape[0]), 0)
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    if ok.any():
        out = np.where(np.arange(x.shape[0]) < np.argmax(ok), x[np.argmax(ok)], out)
    return out


@FORECASTERS.register("gbt")
class GradientBoosted(Forecaster):
    """Direct multi-horizon gradient boosting on lag, seasonal and calendar features.

    >>> import numpy as np
    >>> ts = np.arange(0.0, 14 * 86400.0, 3600.0)
    >>> y = 50 + 20 * np.sin(2 * np.pi * ts / 86400) + np.random.default_rng(1).normal(0, 1, ts.size)
    >>> fc = GradientBoosted().fit(ts, y).forecast(6)
    >>> bool(np.abs(fc.mean - (50 + 20 * np.sin(2 * np.pi * fc.timestamps / 86400))).mean() < 4)
    True
    """

    name = "gbt"
    min_points = 24

    def __init__(
        self,
        *,
        max_horizon_s: float = 6 * 3600.0,
        level_window_s: float = 3600.0,
        n_lags: int = 6,
        max_rows: int = 120_000,
        max_iter: int = 200,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 40,
        log: bool | None = None,
        random_state: int = 0,
        level: float = 0.8,
        step: float | None = None,
    ) -> None:
        super().__init__(level=level, step=step)
        self.max_horizon_s = max_horizon_s
        self.level_window_s = level_window_s
        self.n_lags = n_lags
        self.max_rows = max_rows
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.log = log
        self.random_state = random_state

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"max_iter": 20, "max_rows": 4000}

    # ---- features ---------------------------------------------------------------------

    def _z(self, y: FloatArray) -> FloatArray:
        return np.log1p(np.maximum(y, 0.0)) if self.log_ else y

    def _inv(self, z: FloatArray) -> FloatArray:
        if self.log_:
            return np.asarray(np.expm1(np.clip(z, -50.0, 50.0)), dtype=np.float64)
        return z

    def _levels(self, z: FloatArray) -> FloatArray:
        """Trailing mean over the level window at each index, falling back to the last real value."""
        lv = rolling_nanmean(z, self.w_, centered=False, min_frac=0.0)
        return np.where(np.isnan(lv), _ffill(z), lv)

    def _features(
        self, z: FloatArray, lv: FloatArray, t: IntArray, h: IntArray, t0: float, h_feat: IntArray | None = None
    ) -> FloatArray:
        step = self.step_
        j = t + h
        level = lv[t]
        cols: list[FloatArray] = []
        lags = t[:, None] - np.arange(self.n_lags)[None, :]
        cols.extend((_gather(z, lags, t) - level[:, None]).T)
        for win in (3, self.w_ * 3, int(DAY_S / step)):
            idx = t[:, None] - np.arange(max(win, 1))[None, :]
            cols.append(_nanmean_rows(_gather(z, idx, t)) - level)
        for period in (DAY_S, WEEK_S):
            m = round(period / step)
            if m < 2:
                continue
            k = np.maximum(np.ceil(h / m), 1).astype(np.int64)
            js = j - k * m  # same phase, most recent at or before the origin
            around = js[:, None] + np.arange(-2, 3)[None, :]
            cols.append(_gather(z, js[:, None], t)[:, 0] - level)
            near = _nanmean_rows(_gather(z, around, t))
            cols.append(near - level)
            past_level = np.where(t - k * m >= 0, lv[np.maximum(t - k * m, 0)], np.nan)
            cols.append(near - past_level)
        tsj = t0 + step * j.astype(np.float64)
        if self.profile_ is not None:
            tst = t0 + step * t.astype(np.float64)
            prof_j = self.profile_(tsj)
            cols.append(prof_j - self.profile_(tst))
            # Holt-Winters-like forecasts: a smoothed deseasonalised level plus the profile at the target
            for ew in self._smoothed_levels(z, t0):
                cols.append(ew[t] + prof_j - level)
        cols.append(np.mod(tsj, DAY_S) / 3600.0)
        if self.weekday_:
            cols.append(np.floor(np.mod(tsj, WEEK_S) / DAY_S))
        cols.append((h if h_feat is None else h_feat).astype(np.float64))
        return np.column_stack(cols)

    def _smoothed_levels(self, z: FloatArray, t0: float) -> list[FloatArray]:
        """Exponentially smoothed deseasonalised series (two smoothing constants), gaps carried over."""
        from scipy.signal import lfilter

        if self.profile_ is None:
            return []
        e = _ffill(z - self.profile_(t0 + self.step_ * np.arange(z.shape[0], dtype=np.float64)))
        out = []
        for a in (0.05, 0.2):
            zi = np.array([(1.0 - a) * e[0]])
            out.append(np.asarray(lfilter([a], [1.0, -(1.0 - a)], e, zi=zi)[0], dtype=np.float64))
        return out

    def _horizons(self) -> IntArray:
        hmax = max(1, round(self.max_horizon_s / self.step_))
        dense = np.arange(1, min(hmax, 24) + 1)
        geo = np.unique(np.round(np.geomspace(24, hmax, 12)).astype(np.int64)) if hmax > 24 else dense[:0]
        return np.asarray(np.unique(np.concatenate([dense, geo])), dtype=np.int64)

    # ---- hooks ------------------------------------------------------------------------

    def _fit(self, y: FloatArray) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.log_ = self.nonneg_ if self.log is None else bool(self.log and self.nonneg_)
        self.w_ = max(2, round(self.level_window_s / self.step_))
        z = self._z(y)
        n = z.shape[0]
        self.weekday_ = bool(np.sum(~np.isnan(z)) * self.step_ >= WEEKDAY_MIN_S)
        self.profile_ = SeasonalProfile.fit(self.timestamps_(0, n), z, self.step_)
        hs = self._horizons()
        hs = hs[hs < n - self.w_]
        if hs.size == 0:
            hs = np.array([1], dtype=np.int64)
        rng = np.random.default_rng(self.random_state)
        per_h = max(self.max_rows // hs.size, 50)
        ts_, hh_ = [], []
        for h in hs:
            origins = np.arange(self.w_ - 1, n - h)
            origins = origins[~np.isnan(z[origins + h])]
            if origins.size > per_h:
                origins = np.sort(rng.choice(origins, per_h, replace=False))
            ts_.append(origins)
            hh_.append(np.full(origins.size, h, dtype=np.int64))
        t = np.concatenate(ts_).astype(np.int64)
        hh = np.concatenate(hh_)
        lv = self._levels(z)
        x = self._features(z, lv, t, hh, self.t0_)
        target = z[t + hh] - lv[t]
        # a feature with no value at all (a weekly lag on less than a week of data) cannot be binned
        self.keep_ = ~np.all(np.isnan(x), axis=0)
        x = x[:, self.keep_]
        self.hmax_ = int(hs.max())
        self.models_ = []
        qs = (0.5, 0.5 - self.level / 2.0, 0.5 + self.level / 2.0)
        for q in qs:
            model = HistGradientBoostingRegressor(
                loss="quantile",
                quantile=q,
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=min(self.min_samples_leaf, max(2, t.size // 20)),
                l2_regularization=1.0,
                early_stopping=False,
                random_state=self.random_state,
            )
            with warnings.catch_warnings(), _threads().limit(limits=1, user_api="openmp"):
                warnings.simplefilter("ignore", category=UserWarning)
                model.fit(x, target)
            self.models_.append(model)

    def _forecast(self, h: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        n = self.y_.shape[0]
        lo = max(0, n - int(WEEK_S / self.step_) - self.w_ - 3 - h)
        # only the recent week is needed for the features
        zs = self._z(self.y_[lo:])
        lv = self._levels(zs)
        hh = np.arange(1, h + 1, dtype=np.int64)
        t = np.full(h, zs.shape[0] - 1, dtype=np.int64)
        # beyond the trained horizons only the horizon feature is clamped
        x = self._features(zs, lv, t, hh, self.t0_ + lo * self.step_, np.minimum(hh, self.hmax_))[:, self.keep_]
        base = lv[-1]
        with _threads().limit(limits=1, user_api="openmp"):
            preds = [m.predict(x) for m in self.models_]
        mean, lower, upper = (self._inv(base + p) for p in preds)
        mean = self._within_one_range(mean)
        return mean, np.minimum(lower, mean), np.maximum(upper, mean)

    def _within_one_range(self, mean: FloatArray) -> FloatArray:
        """The point forecast no further than one range of the history beyond its ends (as Holt-Winters').

        The trees learn changes relative to the recent level, in log space for non-negative series, and
        do not see the level itself: a jump learnt where a series leaves its floor (an on/off VM starting
        its batch window) is applied just the same when it already sits at its ceiling, and multiplies
        the ceiling."""
        ok = self.y_[~np.isnan(self.y_)]
        return np.asarray(np.clip(mean, *one_range_bounds(float(ok.min()), float(ok.max()))), dtype=np.float64)
