"""Exponential smoothing with daily and weekly seasonality (Holt-Winters, made practical at fine steps).

A classic Holt-Winters keeps one seasonal state per step of the season: 2016 states for a weekly
season at 5-minute steps, which is slow to fit and noisy on a few weeks of data.  Here the season is a
:class:`~hx.forecast.seasonal.SeasonalProfile` (daily shape plus a weekday x hour correction),
estimated robustly, and the deseasonalised series gets a damped-trend Holt model whose smoothing
parameters statsmodels estimates by maximum likelihood.  Non-negative series are modelled in
``log1p`` space (multiplicative seasonality; forecasts stay positive; the point forecast is then the
median).  Intervals are empirical quantiles of the in-sample h-step errors.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from hx.forecast.base import DAY_S, FORECASTERS, FloatArray, Forecaster, one_range_bounds
from hx.forecast.seasonal import SeasonalProfile


def _holt_params(e: FloatArray, damped: bool, l0: float) -> tuple[float, float, float]:
    """(alpha, beta, phi) from statsmodels, or a conservative default when it cannot fit.

    The fit starts from the state the recursion will start from (level ``l0``, no trend): with a starting
    state of its own to estimate, statsmodels can absorb a short series into it and return a level smoothing
    of ~1e-8, which the recursion from ``l0`` would then never move (a forecast flat at the first value).
    """
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    ok = ~np.isnan(e)
    if ok.sum() < 20:
        return 0.3, 0.02, 0.9 if damped else 1.0
    idx = np.arange(e.shape[0])
    ef = np.interp(idx, idx[ok], e[ok])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = ExponentialSmoothing(
                ef, trend="add", damped_trend=damped, initialization_method="known", initial_level=l0,
                initial_trend=0.0,
            ).fit()  # fmt: skip
        except (ValueError, np.linalg.LinAlgError):
            return 0.3, 0.02, 0.9 if damped else 1.0
    p = res.params
    alpha = float(p.get("smoothing_level", 0.3))
    beta = float(p.get("smoothing_trend", 0.02))
    phi = float(p.get("damping_trend", 1.0)) if damped else 1.0
    vals = (alpha, beta, phi)
    if not all(np.isfinite(v) for v in vals):
        return 0.3, 0.02, 0.9 if damped else 1.0
    return float(np.clip(alpha, 0.0, 1.0)), float(np.clip(beta, 0.0, 1.0)), float(np.clip(phi, 0.0, 1.0))


def holt_filter(
    e: FloatArray, alpha: float, beta: float, phi: float, l0: float, b0: float
) -> tuple[FloatArray, FloatArray]:
    """Damped-trend Holt recursion; a NaN observation advances the state without correcting it.

    Returns the level and trend after each observation.
    """
    n = e.shape[0]
    lv = np.empty(n)
    tr = np.empty(n)
    lev, b = l0, b0
    for i in range(n):
        pred = lev + phi * b
        x = e[i]
        if x == x:  # not NaN
            new_l = alpha * x + (1.0 - alpha) * pred
            b = beta * (new_l - lev) + (1.0 - beta) * phi * b
            lev = new_l
        else:
            lev, b = pred, phi * b
        lv[i], tr[i] = lev, b
    return lv, tr


#: Huber bound on the standardised one-step error, and the biweight rho's bound and constant
#: (Gelper, Fried & Croux 2010, "Robust forecasting with exponential and Holt-Winters smoothing")
HUBER_K = 2.0
BIWEIGHT_C = 2.52
SCALE_LAMBDA = 0.1
#: fewest real observations in a row beyond the bound on one side that restart the level
SHIFT_MIN_POINTS = 3


def biweight_rho(x: float, k: float = HUBER_K, c: float = BIWEIGHT_C) -> float:
    """The bounded biweight rho of the robust scale update: ``c (1 - (1 - (x/k)^2)^3)``, ``c`` beyond ``k``.

    >>> biweight_rho(0.0), biweight_rho(5.0)
    (0.0, 2.52)
    """
    if abs(x) >= k:
        return c
    return c * (1.0 - (1.0 - (x / k) ** 2) ** 3)


def robust_scale(e: FloatArray) -> float:
    """A robust scale of one-step changes (1.4826 MAD of the differences / sqrt 2), floored above zero."""
    d = np.diff(e[~np.isnan(e)])
    if d.size < 2:
        return 1.0
    mad = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / np.sqrt(2.0)
    floor = 1e-6 * max(1.0, float(np.nanmedian(np.abs(e))))
    return float(max(mad, floor))


def _run(run: int, r: float) -> int:
    """Signed count of consecutive standardised errors beyond the Huber bound on one side."""
    if r > HUBER_K:
        return run + 1 if run > 0 else 1
    if r < -HUBER_K:
        return run - 1 if run < 0 else -1
    return 0


def robust_holt_filter(
    e: FloatArray,
    alpha: float,
    beta: float,
    phi: float,
    l0: float,
    b0: float,
    sigma0: float,
    shift_n: int = 0,
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Damped-trend Holt recursion on Huber-cleaned observations (robust exponential smoothing).

    Each observation is first pulled to within ``HUBER_K`` robust scales of its one-step prediction
    (so a dropout or a spike moves the level and trend by at most that much per step); the scale
    follows the errors through a bounded biweight update. A NaN observation advances the state
    without correcting it.  A real level shift is not an outlier: once ``shift_n`` (> 0) real
    observations in a row fall beyond the bound on the same side, the level restarts at the latest
    one with no trend.  Returns the level and trend after each observation, the cleaned series and
    the last scale.

    >>> e = np.array([10.0, 10.1, 9.9, 10.0, 0.0, 10.0, 10.1])
    >>> lv, tr, clean, s = robust_holt_filter(e, 0.5, 0.1, 0.9, 10.0, 0.0, 0.1)
    >>> bool(lv.min() > 9.5), bool(clean[4] > 9.5)
    (True, True)
    >>> lv = robust_holt_filter(np.array([10.0, 10.0, 40.0, 40.0, 40.0]), 0.5, 0.1, 0.9, 10.0, 0.0, 0.1, 3)[0]
    >>> lv.tolist()[-1]
    40.0
    """
    n = e.shape[0]
    lv, tr, clean = np.empty(n), np.empty(n), np.full(n, np.nan)
    lev, b, sig, run = l0, b0, sigma0, 0
    for i in range(n):
        pred = lev + phi * b
        x = e[i]
        if x == x:  # not NaN
            r = (x - pred) / sig
            run = _run(run, r)
            xc = pred + sig * min(max(r, -HUBER_K), HUBER_K)
            sig = max(sig * np.sqrt(SCALE_LAMBDA * biweight_rho(r) + 1.0 - SCALE_LAMBDA), 1e-12)
            if shift_n and abs(run) >= shift_n:  # a persistent move is a new level, not an outlier
                lev, b, run, xc = x, 0.0, 0, x
            else:
                new_l = alpha * xc + (1.0 - alpha) * pred
                b = beta * (new_l - lev) + (1.0 - beta) * phi * b
                lev = new_l
            clean[i] = xc
        else:
            lev, b = pred, phi * b
        lv[i], tr[i] = lev, b
    return lv, tr, clean, float(sig)


def _damp_sum(phi: float, h: int) -> FloatArray:
    """phi + phi^2 + ... + phi^k for k = 1..h."""
    return np.cumsum(phi ** np.arange(1, h + 1, dtype=np.float64))


@FORECASTERS.register("holt_winters")
class HoltWinters(Forecaster):
    """Damped-trend exponential smoothing on a daily + weekly seasonal profile.

    >>> import numpy as np
    >>> ts = np.arange(0.0, 21 * 86400.0, 3600.0)
    >>> y = 100 + 30 * np.sin(2 * np.pi * ts / 86400) + np.random.default_rng(0).normal(0, 2, ts.size)
    >>> fc = HoltWinters().fit(ts, y).forecast(24)
    >>> bool(np.abs(fc.mean - (100 + 30 * np.sin(2 * np.pi * fc.timestamps / 86400))).mean() < 5)
    True
    """

    name = "holt_winters"
    min_points = 8
    #: a model saved before the robust recursion existed loads with the classic one (its state has no scale)
    robust: bool = False
    shift_s: float = 2700.0
    sigma_: float = float("inf")

    def __init__(
        self,
        *,
        daily: bool = True,
        weekly: bool = True,
        log: bool | None = None,
        damped: bool = True,
        fit_window_s: float = 14 * DAY_S,
        robust: bool = True,
        shift_s: float = 2700.0,
        level: float = 0.8,
        step: float | None = None,
    ) -> None:
        super().__init__(level=level, step=step)
        self.robust = robust
        self.shift_s = shift_s
        self.daily = daily
        self.weekly = weekly
        self.log = log
        self.damped = damped
        self.fit_window_s = fit_window_s

    def _z(self, y: FloatArray) -> FloatArray:
        return np.log1p(np.maximum(y, 0.0)) if self.log_ else y

    def _inv(self, z: FloatArray) -> FloatArray:
        if self.log_:
            return np.asarray(np.expm1(np.clip(z, -50.0, 50.0)), dtype=np.float64)
        return z

    def _season(self, idx: FloatArray) -> FloatArray:
        if self.profile_ is None:
            return np.zeros(idx.shape[0])
        return self.profile_(self.t0_ + self.step_ * idx)

    def _fit(self, y: FloatArray) -> None:
        self.log_ = self.nonneg_ if self.log is None else bool(self.log and self.nonneg_)
        z = self._z(y)
        n = z.shape[0]
        ts = self.timestamps_(0, n)
        self.profile_ = (
            SeasonalProfile.fit(ts, z, self.step_, use_weekly=self.weekly, robust=self.robust) if self.daily else None
        )
        e = z - self._season(np.arange(n, dtype=np.float64))
        w = max(int(self.fit_window_s / self.step_), 50)
        real = e[~np.isnan(e)]
        l0 = float(np.median(real[:5]))
        self.sigma_ = robust_scale(e) if self.robust else float("inf")
        if self.robust:  # the parameters are learnt on the cleaned series: a dropout must not set them
            # cleaned as the filter will see it: a persistent move stays a level shift (not a smeared-out trend)
            l0_fit = float(np.median(real[-w:][:5]))
            e_fit = robust_holt_filter(e[-w:], 0.3, 0.02, 0.9, l0_fit, 0.0, self.sigma_, self._shift_n())[2]
            e_fit = np.where(np.isnan(e[-w:]), np.nan, e_fit)
        else:
            e_fit = e[-w:]
        start = e_fit[~np.isnan(e_fit)]
        l0_fit = float(np.median(start[:5])) if start.size else l0  # a window all gaps: the defaults, from l0
        self.alpha_, self.beta_, self.phi_ = _holt_params(e_fit, self.damped, l0_fit)
        lv, tr = self._filter(e, l0, 0.0)
        self.zrange_ = (float(np.nanmin(z)), float(np.nanmax(z)))
        self._fit_error_quantiles(z, lv, tr)
        self.l_, self.b_ = float(lv[-1]), float(tr[-1])

    def _filter(self, e: FloatArray, l0: float, b0: float) -> tuple[FloatArray, FloatArray]:
        """Run the (robust, unless configured otherwise) Holt recursion from a state; keeps the scale."""
        if not self.robust:
            return holt_filter(e, self.alpha_, self.beta_, self.phi_, l0, b0)
        lv, tr, _clean, self.sigma_ = robust_holt_filter(
            e, self.alpha_, self.beta_, self.phi_, l0, b0, self.sigma_, self._shift_n()
        )
        return lv, tr

    def _shift_n(self) -> int:
        """Real observations in a row beyond the Huber bound (on one side) that make a new level: those
        in ``shift_s``, but never fewer than :data:`SHIFT_MIN_POINTS` (at coarse steps one or two points
        cannot tell a level shift from a spike)."""
        return max(SHIFT_MIN_POINTS, math.ceil(self.shift_s / self.step_))

    def _fit_error_quantiles(self, z: FloatArray, lv: FloatArray, tr: FloatArray) -> None:
        """Empirical quantiles of in-sample h-step errors for h = 1..hq (recent four weeks)."""
        n = z.shape[0]
        hq = int(max(1, min(n // 3, round(DAY_S / self.step_))))
        start = max(0, n - int(28 * DAY_S / self.step_))
        csum = _damp_sum(self.phi_, hq)
        season = self._season(np.arange(n, dtype=np.float64))
        qlo = np.zeros(hq)
        qhi = np.zeros(hq)
        a, b = 0.5 - self.level / 2.0, 0.5 + self.level / 2.0
        for h in range(1, hq + 1):
            o = np.arange(start, n - h)
            if o.size < 10:
                qlo[h - 1 :], qhi[h - 1 :] = (qlo[h - 2], qhi[h - 2]) if h > 1 else (0.0, 0.0)
                break
            err = z[o + h] - (lv[o] + csum[h - 1] * tr[o] + season[o + h])
            err = err[~np.isnan(err)]
            if err.size < 10:
                qlo[h - 1], qhi[h - 1] = (qlo[h - 2], qhi[h - 2]) if h > 1 else (0.0, 0.0)
                continue
            qlo[h - 1], qhi[h - 1] = np.quantile(err, [a, b])
        self.qlo_, self.qhi_ = qlo, qhi

    def _update(self, new: FloatArray) -> None:
        n = self.y_.shape[0]
        idx = np.arange(n - new.shape[0], n, dtype=np.float64)
        e = self._z(new) - self._season(idx)
        lv, tr = self._filter(e, self.l_, self.b_)
        self.l_, self.b_ = float(lv[-1]), float(tr[-1])

    def _zbounds(self) -> tuple[float, float]:
        """The point forecast stays within one range of the history beyond its ends, that range taken in the
        data's own units: in log space one range more on top would square the history's largest value."""
        lo, hi = self.zrange_
        if not self.log_:
            return one_range_bounds(lo, hi)
        ylo, yhi = one_range_bounds(float(np.expm1(lo)), float(np.expm1(hi)), floor=0.0)
        return float(np.log1p(ylo)), float(np.log1p(yhi))

    def _forecast(self, h: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        n = self.y_.shape[0]
        idx = np.arange(n, n + h, dtype=np.float64)
        zhat = self.l_ + _damp_sum(self.phi_, h) * self.b_ + self._season(idx)
        zhat = np.clip(zhat, *self._zbounds())
        hq = self.qlo_.shape[0]
        k = np.arange(1, h + 1)
        grow = np.sqrt(np.maximum(k / hq, 1.0))
        qi = np.minimum(k, hq) - 1
        return self._inv(zhat), self._inv(zhat + self.qlo_[qi] * grow), self._inv(zhat + self.qhi_[qi] * grow)
