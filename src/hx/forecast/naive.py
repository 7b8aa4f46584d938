"""Reference forecasters: the last value, and the same time one season (a day or a week) ago."""

from __future__ import annotations

import numpy as np

from hx.forecast.base import DAY_S, FORECASTERS, FloatArray, Forecaster, seasonal_lag_index


def _nan_quantiles(r: FloatArray, level: float) -> tuple[float, float]:
    r = r[np.isfinite(r)]
    if r.size < 2:
        return 0.0, 0.0
    lo, hi = np.quantile(r, [0.5 - level / 2.0, 0.5 + level / 2.0])
    return float(lo), float(hi)


@FORECASTERS.register("naive")
class Naive(Forecaster):
    """The last observed value; intervals widen like a random walk (sqrt of the horizon).

    >>> import numpy as np
    >>> m = Naive().fit(np.arange(5.0) * 60, np.array([1.0, 2.0, np.nan, 4.0, np.nan]))
    >>> m.forecast(2).mean.tolist()
    [4.0, 4.0]
    """

    name = "naive"
    min_points = 2

    def _fit(self, y: FloatArray) -> None:
        ok = y[~np.isnan(y)]
        self.q_ = _nan_quantiles(np.diff(ok), self.level)

    def _forecast(self, h: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        mean = np.full(h, self.last_value())
        grow = np.sqrt(np.arange(1, h + 1, dtype=np.float64))
        return mean, mean + self.q_[0] * grow, mean + self.q_[1] * grow


@FORECASTERS.register("seasonal_naive")
class SeasonalNaive(Forecaster):
    """The value one season ago at the same phase (``season_s`` = 86400 daily, 604800 weekly).

    Gaps are bridged by going back further whole seasons (up to ``max_back`` of them), then by the last
    value.  A history shorter than one season falls back to the last value (``effective_season_`` is 0
    then).  Intervals: empirical quantiles of the in-sample seasonal differences, widened by the square
    root of the number of seasons ahead.

    >>> import numpy as np
    >>> ts = np.arange(0.0, 3 * 86400.0, 21600.0)  # 6-hourly, 3 days
    >>> SeasonalNaive().fit(ts, np.tile([1.0, 2.0, 3.0, 4.0], 3)).forecast(4).mean.tolist()
    [1.0, 2.0, 3.0, 4.0]
    """

    name = "seasonal_naive"
    min_points = 2

    def __init__(
        self, *, season_s: float = DAY_S, max_back: int = 4, level: float = 0.8, step: float | None = None
    ) -> None:
        super().__init__(level=level, step=step)
        self.season_s = season_s
        self.max_back = max_back

    def _fit(self, y: FloatArray) -> None:
        m = round(self.season_s / self.step_)
        self.effective_season_ = m if 1 <= m < y.shape[0] else 0
        if self.effective_season_:
            self.q_ = _nan_quantiles(y[m:] - y[:-m], self.level)
        else:
            self.q_ = _nan_quantiles(np.diff(y[~np.isnan(y)]), self.level)

    def _forecast(self, h: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        y = self.y_
        n = y.shape[0]
        m = self.effective_season_
        last = self.last_value()
        if not m:
            mean = np.full(h, last)
            grow = np.sqrt(np.arange(1, h + 1, dtype=np.float64))
            return mean, mean + self.q_[0] * grow, mean + self.q_[1] * grow
        target = np.arange(n, n + h, dtype=np.int64)
        idx = seasonal_lag_index(target, n - 1, m)
        mean = np.full(h, np.nan)
        for _ in range(max(self.max_back, 1)):
            ok = idx >= 0
            vals = np.full(h, np.nan)
            vals[ok] = y[idx[ok]]
            mean = np.where(np.isnan(mean), vals, mean)
            idx = idx - m
        mean = np.where(np.isnan(mean), last, mean)
        seasons_ahead = np.ceil((target - (n - 1)) / m)
        grow = np.sqrt(np.maximum(seasons_ahead, 1.0))
        return mean, mean + self.q_[0] * grow, mean + self.q_[1] * grow
