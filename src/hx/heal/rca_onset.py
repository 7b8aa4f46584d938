"""Onset of an incident: one multivariate mean-shift change point, and robust per-metric statistics.

The change point is the split ``k`` of the rows that best separates "before" from "after" over all
metrics at once: each metric is standardised by a robust noise scale taken from its first differences
(insensitive to the level shift itself), and the split maximises the sum over metrics of the two-sample
mean-shift statistic ``sqrt(k (n-k) / n) * |mean(after) - mean(before)|``.  This is the offline
counterpart of the Bayesian online change point step that BARO uses: one onset for the whole system,
found without a separate normal period.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Converts a median absolute deviation into a standard deviation for Gaussian noise.
MAD_TO_SIGMA = 1.4826
#: Converts an inter-quartile range into a standard deviation for Gaussian noise.
IQR_TO_SIGMA = 1.0 / 1.349


@dataclass(frozen=True)
class Onset:
    """The change point found: row ``index`` starts the "after" segment; ``strength`` is its statistic."""

    index: int
    strength: float
    significant: bool


def nan_median(values: FloatArray, axis: int = 0) -> FloatArray:
    """``np.nanmedian`` that returns NaN for an all-gap column without warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmedian(values, axis=axis), dtype=np.float64)


def nan_percentile(values: FloatArray, q: list[float], axis: int = 0) -> FloatArray:
    """``np.nanpercentile`` that returns NaN for an all-gap column without warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanpercentile(values, q, axis=axis), dtype=np.float64)


def scale_floor(center: FloatArray, rel_floor: float) -> FloatArray:
    """The smallest scale a metric may have: ``rel_floor`` of its level, and never zero."""
    return np.maximum(rel_floor * np.abs(center), 1e-12)


def diff_noise_scale(values: FloatArray) -> FloatArray:
    """Per-column noise scale from first differences (robust to a single level shift), NaN-aware."""
    d = np.diff(values, axis=0)
    mad = nan_median(np.abs(d - nan_median(d)))
    return np.asarray(np.nan_to_num(MAD_TO_SIGMA * mad / np.sqrt(2.0), nan=0.0), dtype=np.float64)


def _fill_gaps(values: FloatArray) -> FloatArray:
    """Replace gaps by the column median, so that they pull no split one way or the other."""
    filled = values.copy()
    med = np.nan_to_num(nan_median(values), nan=0.0)
    rows, cols = np.nonzero(np.isnan(filled))
    filled[rows, cols] = med[cols]
    return filled


def detect_onset(
    values: FloatArray, lo: int = 1, hi: int | None = None, *, rel_floor: float = 0.01, z_min: float = 3.0
) -> Onset:
    """Find the split row in ``[lo, hi]`` that best separates before from after over all columns.

    ``significant`` says whether at least one metric shifted by ``z_min`` noise scales at that split.

    >>> x = np.r_[np.zeros(20), np.ones(10) * 5.0] + np.tile([0.1, -0.1], 15)
    >>> detect_onset(x[:, None]).index
    20
    """
    n = values.shape[0]
    hi = n - 1 if hi is None else min(hi, n - 1)
    lo = max(1, lo)
    if n < 2 or hi < lo:
        return Onset(index=min(max(lo, 0), n), strength=0.0, significant=False)
    x = _fill_gaps(values)
    center = np.nan_to_num(nan_median(values), nan=0.0)
    sigma = np.maximum(diff_noise_scale(values), scale_floor(center, rel_floor))
    z = (x - center) / sigma
    csum = np.cumsum(z, axis=0)
    total = csum[-1]
    ks = np.arange(lo, hi + 1)
    left = csum[ks - 1] / ks[:, None]
    right = (total - csum[ks - 1]) / (n - ks)[:, None]
    weight = np.sqrt(ks * (n - ks) / n)[:, None]
    shift = np.abs(right - left)
    stat = (weight * shift).sum(axis=1)
    best = int(np.argmax(stat))
    significant = bool(np.max(shift[best]) >= z_min)
    return Onset(index=int(ks[best]), strength=float(stat[best]), significant=significant)


def robust_center_scale(baseline: FloatArray, rel_floor: float) -> tuple[FloatArray, FloatArray]:
    """Median and a robust standard deviation per column of ``baseline`` (IQR or MAD, floored)."""
    center = nan_median(baseline)
    q75, q25 = nan_percentile(baseline, [75.0, 25.0])
    mad = nan_median(np.abs(baseline - center))
    spread = np.fmax(IQR_TO_SIGMA * (q75 - q25), MAD_TO_SIGMA * mad)
    spread = np.nan_to_num(spread, nan=0.0)
    scale = np.maximum(spread, scale_floor(np.nan_to_num(center, nan=0.0), rel_floor))
    return center, scale


def tail_spread(baseline: FloatArray, signs: npt.NDArray[np.int_], p: float) -> FloatArray:
    """The smallest noise scale at which the baseline's own ``p`` tail quantile scores no more than it would
    for Gaussian noise (``z_p``): a value that is common in normal rows cannot score as extreme.

    The upper tail counts for metrics whose rise is harmful (``signs == 1``), the lower tail for those whose
    fall is (``-1``), the wider of the two otherwise.  A latency that is 5 ms nearly always and 29 s in 9 %
    of normal minutes has a zero IQR, but its 0.95 quantile is 29 s: its scale is at least 29 s / 1.64.

    >>> base = np.r_[np.full(91, 0.005), np.full(9, 29.0)][:, None]
    >>> round(float(tail_spread(base, np.array([1]), 0.95)[0]), 2)
    17.63
    """
    z_p = NormalDist().inv_cdf(p)
    hi, lo = nan_percentile(baseline, [100.0 * p, 100.0 * (1.0 - p)])
    med = nan_median(baseline)
    up = np.nan_to_num((hi - med) / z_p, nan=0.0)
    down = np.nan_to_num((med - lo) / z_p, nan=0.0)
    return np.asarray(np.where(signs == 1, up, np.where(signs == -1, down, np.fmax(up, down))), dtype=np.float64)


def resolution(baseline: FloatArray) -> FloatArray:
    """Per column, the smallest step between two distinct values of the baseline (0 with fewer than two):
    a move of one step of a metric's own resolution is never more than one unit of noise.

    >>> resolution(np.array([[1.0, 0.5], [3.0, 0.5], [2.0, np.nan]]))
    array([1., 0.])
    """
    out = np.zeros(baseline.shape[1])
    for j in range(baseline.shape[1]):
        vals = np.unique(baseline[:, j][~np.isnan(baseline[:, j])])
        if vals.size > 1:
            out[j] = float(np.min(np.diff(vals)))
    return out
