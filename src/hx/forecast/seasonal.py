"""Calendar phases and robust daily/weekly seasonal profiles on a regular grid (NaN = gap).

A profile is estimated on detrended data (the series minus its centred one-day moving average): a
daily shape at the grid resolution, plus a coarser weekday x hour correction when there are at least
two weeks of history.  That is a handful of hundred parameters instead of one state per step of a week
(what a classic Holt-Winters with a 2016-step season would need), and it is fast to fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hx.forecast.base import DAY_S, WEEK_S, FloatArray

IntArray = npt.NDArray[np.int64]


def phase(ts: FloatArray, period_s: float, bin_s: float) -> IntArray:
    """Index of the ``bin_s``-wide bin of each timestamp within its period (UTC-aligned)."""
    nbins = max(round(period_s / bin_s), 1)
    p = np.floor(np.mod(ts, period_s) / bin_s + 1e-9).astype(np.int64)
    return np.asarray(np.clip(p, 0, nbins - 1), dtype=np.int64)


def rolling_nanmean(x: FloatArray, window: int, centered: bool = True, min_frac: float = 0.3) -> FloatArray:
    """Moving average ignoring NaN; NaN where fewer than ``min_frac`` of the window is real."""
    n = x.shape[0]
    w = max(int(window), 1)
    ok = ~np.isnan(x)
    cs = np.concatenate([[0.0], np.cumsum(np.where(ok, x, 0.0))])
    cn = np.concatenate([[0], np.cumsum(ok)])
    if centered:
        lo = np.clip(np.arange(n) - w // 2, 0, n)
        hi = np.clip(np.arange(n) + (w - w // 2), 0, n)
    else:
        lo = np.clip(np.arange(n) - w + 1, 0, n)
        hi = np.arange(n) + 1
    cnt = cn[hi] - cn[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (cs[hi] - cs[lo]) / cnt
    return np.where(cnt >= max(1, int(min_frac * w)), out, np.nan)


def _circular_smooth(p: FloatArray, bins: int) -> FloatArray:
    if bins <= 1 or p.shape[0] < 3:
        return p
    k = np.ones(bins) / bins
    pad = bins // 2
    ext = np.concatenate([p[-pad:], p, p[:pad]]) if pad else p
    return np.convolve(ext, k, mode="valid")[: p.shape[0]]


def _circular_median(p: FloatArray, bins: int) -> FloatArray:
    """Running median over ``bins`` neighbouring bins, wrapping around the period (keeps a block's edges)."""
    if bins <= 1 or p.shape[0] < 3:
        return p
    pad = bins // 2
    ext = np.concatenate([p[-pad:], p, p[:pad]]) if pad else p
    win = np.lib.stride_tricks.sliding_window_view(ext, bins)
    return np.asarray(np.median(win, axis=1)[: p.shape[0]], dtype=np.float64)


def binned_median(values: FloatArray, bins: IntArray, nbins: int) -> FloatArray:
    """Median of the real (non-NaN) values in each bin; 0 for an empty bin.

    >>> binned_median(np.array([1.0, 9.0, 2.0, np.nan, 5.0]), np.array([0, 0, 0, 1, 2]), 3).tolist()
    [2.0, 0.0, 5.0]
    """
    ok = ~np.isnan(values)
    v, b = values[ok], bins[ok]
    order = np.lexsort((v, b))
    v = v[order]
    c = np.bincount(b, minlength=nbins)
    start = np.cumsum(c) - c
    lo = np.minimum(start + np.maximum(c - 1, 0) // 2, max(v.size - 1, 0))
    hi = np.minimum(start + c // 2, max(v.size - 1, 0))
    if v.size == 0:
        return np.zeros(nbins)
    return np.asarray(np.where(c > 0, (v[lo] + v[hi]) / 2.0, 0.0), dtype=np.float64)


def mad_outliers(r: FloatArray, cut: float = 5.0) -> npt.NDArray[np.bool_]:
    """Points further than ``cut`` robust standard deviations (1.4826 MAD) from the median of ``r``."""
    ok = ~np.isnan(r)
    if ok.sum() < 3:
        return np.zeros(r.shape[0], dtype=bool)
    med = float(np.median(r[ok]))
    mad = 1.4826 * float(np.median(np.abs(r[ok] - med)))
    if mad <= 0:
        return np.zeros(r.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.abs(r - med) > cut * mad, dtype=bool)


def _binned_mean(values: FloatArray, bins: IntArray, nbins: int) -> FloatArray:
    ok = ~np.isnan(values)
    s = np.bincount(bins[ok], weights=values[ok], minlength=nbins)
    c = np.bincount(bins[ok], minlength=nbins)
    return np.where(c > 0, s / np.maximum(c, 1), 0.0)


@dataclass(frozen=True)
class SeasonalProfile:
    """Additive daily shape (+ optional weekday x hour correction) as a function of timestamps."""

    step_s: float
    daily: FloatArray
    weekly: FloatArray | None
    week_bin_s: float

    @classmethod
    def fit(
        cls,
        ts: FloatArray,
        z: FloatArray,
        step_s: float,
        *,
        use_weekly: bool = True,
        smooth_bins: int = 3,
        robust: bool = False,
    ) -> SeasonalProfile | None:
        """Estimate from ``z`` (NaN = gap); None when there is less than two days of data.

        ``robust``: medians over the seasons instead of clipped means, after a first pass that masks the
        points far (5 MAD) from a first profile, so a dropout or an outage cannot poison the factors.
        """
        md = round(DAY_S / step_s)
        n_days = np.sum(~np.isnan(z)) * step_s / DAY_S
        if md < 2 or n_days < 2:
            return None
        if robust:
            return cls._fit_robust(ts, z, step_s, md, use_weekly and n_days >= 14, smooth_bins)
        d = z - rolling_nanmean(z, md)
        lo, hi = np.nanquantile(d, [0.01, 0.99]) if np.any(~np.isnan(d)) else (0.0, 0.0)
        d = np.clip(d, lo, hi)
        dph = phase(ts, DAY_S, step_s)
        daily = _circular_smooth(_binned_mean(d, dph, md), smooth_bins)
        weekly = None
        week_bin = max(step_s, 3600.0)
        if use_weekly and n_days >= 14:
            nb = round(WEEK_S / week_bin)
            r = d - daily[dph]
            weekly = _circular_smooth(_binned_mean(r, phase(ts, WEEK_S, week_bin), nb), 3)
        return cls(step_s, daily, weekly, week_bin)

    @classmethod
    def _fit_robust(
        cls, ts: FloatArray, z: FloatArray, step_s: float, md: int, weekly: bool, smooth_bins: int
    ) -> SeasonalProfile:
        dph = phase(ts, DAY_S, step_s)
        first = binned_median(z - rolling_nanmean(z, md), dph, md)
        level = rolling_nanmean(z, md)
        clean = np.where(mad_outliers(z - level - first[dph]), np.nan, z)
        d = clean - rolling_nanmean(clean, md)
        daily = _circular_median(binned_median(d, dph, md), smooth_bins)
        week_bin = max(step_s, 3600.0)
        wk = None
        if weekly:
            nb = round(WEEK_S / week_bin)
            wk = _circular_smooth(binned_median(d - daily[dph], phase(ts, WEEK_S, week_bin), nb), 3)
        return cls(step_s, daily, wk, week_bin)

    def __call__(self, ts: FloatArray) -> FloatArray:
        out = self.daily[phase(ts, DAY_S, self.step_s)]
        if self.weekly is not None:
            out = out + self.weekly[phase(ts, WEEK_S, self.week_bin_s)]
        return np.asarray(out, dtype=np.float64)
