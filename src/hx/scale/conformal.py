"""Online conformal upper bound of a service's demand one start-up time ahead (pure: no clock, no I/O).

The predictive scaler's calibrated mode sizes its headroom from its own recent errors instead of a
flat buffer.  :class:`ConformalUpper` runs a few short-term predictors of the demand at
``now + lead_s`` side by side:

- ``last``: the latest demand;
- ``ewma<tau>``: exponentially weighted means of the demand with time constants ``ewma_s``;
- ``drift<tau>``: the latest demand plus half of ``lead_s`` times its recent slope (an exponentially
  weighted mean, time constant ``tau`` from ``drift_s``, of the minute-to-minute change): a damped
  linear extrapolation, which catches a ramp that the latest value and the means lag (the damping
  and the 30-second default were chosen on the scaling benchmark's development periods);
- ``forecast``: the demand forecast's mean at ``now + lead_s``;
- ``forecast+err``: that mean plus an exponentially weighted mean (time constant ``error_s``) of the
  forecast's own recent errors (the forecast is refreshed every grid step; this corrects its level
  between refreshes).

When the demand at a predicted time arrives, each predictor's error is scored as
``(actual - predicted) / sqrt(max(predicted, 1))`` -- request counts vary roughly with their level,
so the scores of a quiet night and a busy noon are comparable.  The bound is
``p + q * sqrt(max(p, 1))`` for the predictor whose ``q`` is smallest, ``q`` being the split-conformal
``1 - alpha`` quantile of its scores over the last ``window_s`` (the ``ceil((n + 1)(1 - alpha))``-th
smallest of ``n``).  With exchangeable errors the bound is exceeded at a rate of about ``alpha``.
Until ``min_scores`` scores are in, :meth:`update` returns None and the caller keeps its default rule.
Non-finite demand or forecast values are skipped; the bound is never negative or NaN.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hx.errors import BadInput
from hx.forecast.base import Forecast

#: the share of the recent slope the ``drift`` predictor extrapolates over the lead time
DRIFT_DAMPING = 0.5


@dataclass(frozen=True)
class Bound:
    """The calibrated bound at ``at``: ``predicted + quantile * sqrt(max(predicted, 1))``."""

    at: float
    upper: float
    predicted: float
    quantile: float
    predictor: str
    scores: int


def conformal_quantile(scores: Sequence[float] | np.ndarray, alpha: float) -> float:
    """The split-conformal ``1 - alpha`` quantile: the ``ceil((n + 1)(1 - alpha))``-th smallest score.

    >>> conformal_quantile([3.0, 1.0, 2.0, 4.0], 0.2), conformal_quantile([3.0, 1.0, 2.0, 4.0], 0.5)
    (4.0, 3.0)
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size == 0:
        raise BadInput("need at least one score", field="scores")
    k = max(min(s.size, math.ceil((s.size + 1) * (1.0 - alpha))), 1) - 1
    return float(np.partition(s, k)[k])


class ConformalUpper:
    """Conformal upper bound of the demand ``lead_s`` ahead; call :meth:`update` once per decision.

    A demand alternating 110 / 100 every minute is the last value again two minutes later:

    >>> c = ConformalUpper(lead_s=120.0, alpha=0.1, min_scores=5)
    >>> bounds = [c.update(60.0 * k, 100.0 + 10.0 * (k % 2), None) for k in range(12)]
    >>> bounds[0] is None, bounds[-1].predictor, bounds[-1].upper
    (True, 'last', 110.0)
    """

    def __init__(
        self,
        lead_s: float,
        alpha: float,
        *,
        window_s: float = 86400.0,
        min_scores: int = 60,
        ewma_s: Sequence[float] = (180.0, 600.0),
        error_s: float = 180.0,
        drift_s: Sequence[float] = (30.0,),
    ) -> None:
        if not (math.isfinite(lead_s) and lead_s >= 0):
            raise BadInput(f"lead_s must be >= 0 seconds, got {lead_s}", field="lead_s")
        if not 0 < alpha < 1:
            raise BadInput(f"alpha must be in (0, 1), got {alpha}", field="alpha")
        if not (math.isfinite(window_s) and window_s > 0):
            raise BadInput(f"window_s must be > 0 seconds, got {window_s}", field="window_s")
        if min_scores < 1:
            raise BadInput(f"min_scores must be >= 1, got {min_scores}", field="min_scores")
        if any(not (math.isfinite(x) and x > 0) for x in (*ewma_s, *drift_s, error_s)):
            raise BadInput("time constants must be > 0 seconds", field="ewma_s")
        self.lead_s = lead_s
        self.alpha = alpha
        self.window_s = window_s
        self.min_scores = min_scores
        self.ewma_s = tuple(ewma_s)
        self.error_s = error_s
        self.drift_s = tuple(drift_s)
        self.names = (
            "last",
            *(f"ewma{x:g}" for x in self.ewma_s),
            *(f"drift{x:g}" for x in self.drift_s),
            "forecast",
            "forecast+err",
        )
        self._ewma = np.full(len(self.ewma_s), math.nan)
        self._slope = np.zeros(len(self.drift_s))
        self._prev = math.nan
        self._err = 0.0
        self._last_t: float | None = None
        self._pending: deque[tuple[float, np.ndarray]] = deque()
        self._scores = _Window(len(self.names))

    def update(self, now_s: float, demand: float, forecast: Forecast | None) -> Bound | None:
        """Score the predictions due by ``now_s`` against ``demand``, predict ``now_s + lead_s``."""
        ok = math.isfinite(demand) and demand >= 0
        self._score(now_s, demand if ok else math.nan)
        if ok:
            self._smooth(now_s, demand)
        preds = self._predict(now_s, demand if ok else math.nan, forecast)
        if np.isfinite(preds).any():
            self._pending.append((now_s + self.lead_s, preds))
        return self._bound(now_s + self.lead_s, preds)

    def _score(self, now_s: float, demand: float) -> None:
        while self._pending and self._pending[0][0] <= now_s + 1e-6:
            at, preds = self._pending.popleft()
            if now_s - at >= self.lead_s + 1e-6 or not math.isfinite(demand):
                continue  # stale (decisions were skipped) or nothing to compare with
            with np.errstate(invalid="ignore"):
                self._scores.append(now_s, (demand - preds) / np.sqrt(np.maximum(preds, 1.0)))
            err = demand - preds[-2]
            if math.isfinite(err):
                self._err += self._weight(self.error_s, now_s) * (err - self._err)
        self._scores.drop_until(now_s - self.window_s)

    def _weight(self, tau: float, now_s: float) -> float:
        dt = self.lead_s if self._last_t is None else max(now_s - self._last_t, 0.0)
        return 1.0 - math.exp(-dt / tau) if dt > 0 else 1.0

    def _smooth(self, now_s: float, demand: float) -> None:
        for i, tau in enumerate(self.ewma_s):
            old = self._ewma[i]
            self._ewma[i] = demand if not math.isfinite(old) else old + self._weight(tau, now_s) * (demand - old)
        dt = 0.0 if self._last_t is None else max(now_s - self._last_t, 0.0)
        if math.isfinite(self._prev) and dt > 0:
            for i, tau in enumerate(self.drift_s):
                self._slope[i] += self._weight(tau, now_s) * ((demand - self._prev) / dt - self._slope[i])
        self._prev = demand
        self._last_t = now_s

    def _predict(self, now_s: float, demand: float, forecast: Forecast | None) -> np.ndarray:
        fc = math.nan
        if forecast is not None and len(forecast):
            at = now_s + self.lead_s
            m = np.asarray(forecast.mean, dtype=np.float64)
            t = np.asarray(forecast.timestamps, dtype=np.float64)
            good = np.isfinite(m)
            if good.any() and t[good][0] - 2 * self.lead_s <= at <= t[good][-1]:
                fc = max(float(np.interp(at, t[good], m[good])), 0.0)
        drift = np.maximum(demand + DRIFT_DAMPING * self.lead_s * self._slope, 0.0)
        return np.array([demand, *self._ewma, *drift, fc, max(fc + self._err, 0.0)])

    def _bound(self, at: float, preds: np.ndarray) -> Bound | None:
        if len(self._scores) < self.min_scores:
            return None
        table = self._scores.values()
        best: Bound | None = None
        for i, name in enumerate(self.names):
            col = table[:, i]
            col = col[np.isfinite(col)]
            if col.size < self.min_scores or not math.isfinite(preds[i]):
                continue
            q = conformal_quantile(col, self.alpha)
            if best is None or q < best.quantile:
                p = float(preds[i])
                best = Bound(at, max(p + q * math.sqrt(max(p, 1.0)), 0.0), p, q, name, int(col.size))
        return best


class _Window:
    """Timestamped rows of scores, oldest first, in one growing array (a view, not a copy, is read)."""

    def __init__(self, width: int) -> None:
        self._t = np.zeros(256)
        self._v = np.zeros((256, width))
        self._lo = self._hi = 0

    def __len__(self) -> int:
        return self._hi - self._lo

    def append(self, t: float, row: np.ndarray) -> None:
        if self._hi == self._t.size:
            n = self._hi - self._lo
            size = max(256, 2 * n)
            t_new, v_new = np.zeros(size), np.zeros((size, self._v.shape[1]))
            t_new[:n], v_new[:n] = self._t[self._lo : self._hi], self._v[self._lo : self._hi]
            self._t, self._v, self._lo, self._hi = t_new, v_new, 0, n
        self._t[self._hi], self._v[self._hi] = t, row
        self._hi += 1

    def drop_until(self, t: float) -> None:
        """Forget the rows at or before ``t``."""
        self._lo += int(np.searchsorted(self._t[self._lo : self._hi], t, side="right"))

    def values(self) -> np.ndarray:
        return self._v[self._lo : self._hi]
