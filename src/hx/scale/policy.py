"""Predictive scaling: replicas from a demand forecast, never below the reactive need (pure policy).

Each ``decide`` call:

1. *reactive need*: ``ceil(current_demand / (capacity x target_utilization))`` -- what the load right
   now requires;
2. *predictive need*: the forecast's upper quantile (``quantile``, 0.9) plus ``scaling_buffer`` (20 %),
   divided by the per-replica capacity, at the peak over ``[now + startup, now + startup + lookahead]``:
   replicas started now are ready at ``now + startup``, so that is the earliest demand they can serve,
   and they must carry it until a later decision can add more;
3. scale out at once to ``max(reactive, predictive)`` within ``[min_replicas, max_replicas]``;
4. scale in only when the need (for scale-in the peak is taken from ``now``, since a replica removed now
   would take ``startup`` to come back) stayed below the current replicas for ``scale_in_window_s``
   -- the target is the highest need over that window -- and by at most ``scale_in_step`` of the
   replicas per decision (at least one).  This is what keeps it from flapping.  With ``scale_in_margin``
   ``m`` it scales in only when the need is more than ``m`` replicas below the current count (hysteresis).

Calibrated mode (``calibration=ConformalUpper(...)``, off by default): step 2 instead takes the
demand bound at ``now + startup`` from :class:`ConformalUpper` -- the sharpest of several short-term
predictors (the forecast's mean among them) widened by the ``1 - alpha`` conformal quantile of its own
recent errors -- and converts it at ``max_utilization`` (the highest utilisation at which the service
still meets its SLO): the calibrated interval carries the headroom that the flat ``scaling_buffer``
and the 70 % target carry otherwise.  Until the calibrator has seen ``min_scores`` errors the default
path (quantile + buffer) decides.

A service without a positive per-replica capacity is :class:`~hx.errors.BadInput`.  NaN demand or
forecast values are ignored (a missing forecast falls back to the reactive need, with the reason).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hx.errors import BadInput
from hx.forecast.base import Forecast
from hx.scale.conformal import Bound, ConformalUpper


def replicas_for(demand: float, capacity_rps: float, utilization: float = 1.0) -> int:
    """Replicas needed to serve ``demand`` req/s at ``utilization`` of each replica's capacity.

    >>> replicas_for(250.0, 100.0), replicas_for(250.0, 100.0, 0.5), replicas_for(0.0, 100.0)
    (3, 5, 0)
    """
    if not (math.isfinite(capacity_rps) and capacity_rps > 0):
        raise BadInput(f"per-replica capacity must be > 0 req/s, got {capacity_rps}", field="capacity_rps")
    if not math.isfinite(demand) or demand <= 0:
        return 0
    return max(0, math.ceil(demand / (capacity_rps * utilization) - 1e-9))


@dataclass(frozen=True)
class ScalingDecision:
    """What the policy decided and why."""

    replicas: int
    reason: str
    reactive_replicas: int
    predictive_replicas: int | None
    forecast_peak: float | None
    window: tuple[float, float] | None
    forecast: Forecast | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "replicas": self.replicas,
            "reason": self.reason,
            "reactive_replicas": self.reactive_replicas,
            "predictive_replicas": self.predictive_replicas,
            "forecast_peak": self.forecast_peak,
            "window": list(self.window) if self.window else None,
        }


class PredictivePolicy:
    """Forecast-driven scaling with a reactive floor and stabilised scale-in.

    >>> import numpy as np
    >>> p = PredictivePolicy(capacity_rps=100.0, startup_s=60.0, lookahead_s=300.0)
    >>> t = np.arange(60.0, 3660.0, 60.0)
    >>> fc = Forecast(t, np.full(t.size, 400.0), np.full(t.size, 350.0), np.full(t.size, 450.0))
    >>> d = p.decide(0.0, 2, 150.0, fc)
    >>> d.replicas, d.reactive_replicas   # p90 ~ 450 x 1.2 / 100 -> 6; now: 150 / 70 -> 3
    (6, 3)
    """

    def __init__(
        self,
        capacity_rps: float | None,
        *,
        startup_s: float = 60.0,
        min_replicas: int = 1,
        max_replicas: int = 1000,
        prediction_horizon_s: float = 3600.0,
        lookahead_s: float = 600.0,
        scaling_buffer: float = 0.2,
        quantile: float = 0.9,
        target_utilization: float = 0.7,
        scale_in_window_s: float = 600.0,
        scale_in_step: float = 0.2,
        scale_in_margin: int = 0,
        calibration: ConformalUpper | None = None,
        max_utilization: float = 0.8,
    ) -> None:
        if capacity_rps is None or not (math.isfinite(capacity_rps) and capacity_rps > 0):
            raise BadInput(
                f"service has no per-replica capacity configured (got {capacity_rps}); "
                "set capacity_rps to the req/s one replica serves",
                field="capacity_rps",
            )
        if not 0 <= min_replicas <= max_replicas:
            raise BadInput(
                f"need 0 <= min_replicas <= max_replicas, got {min_replicas}, {max_replicas}", field="min_replicas"
            )
        for name, v, lo in (
            ("startup_s", startup_s, 0.0),
            ("lookahead_s", lookahead_s, 0.0),
            ("scaling_buffer", scaling_buffer, 0.0),
            ("scale_in_window_s", scale_in_window_s, 0.0),
            ("prediction_horizon_s", prediction_horizon_s, 0.0),
        ):
            if not (math.isfinite(v) and v >= lo):
                raise BadInput(f"{name} must be a number >= {lo}, got {v}", field=name)
        if not 0 < quantile < 1:
            raise BadInput(f"quantile must be in (0, 1), got {quantile}", field="quantile")
        if not 0 < target_utilization <= 1:
            raise BadInput(
                f"target_utilization must be in (0, 1], got {target_utilization}", field="target_utilization"
            )
        if not 0 < max_utilization <= 1:
            raise BadInput(f"max_utilization must be in (0, 1], got {max_utilization}", field="max_utilization")
        if not 0 < scale_in_step <= 1:
            raise BadInput(f"scale_in_step must be in (0, 1], got {scale_in_step}", field="scale_in_step")
        self.capacity_rps = float(capacity_rps)
        self.startup_s = startup_s
        self.min_replicas = min_replicas
        self.max_replicas = max_replicas
        self.prediction_horizon_s = prediction_horizon_s
        self.lookahead_s = lookahead_s
        self.scaling_buffer = scaling_buffer
        self.quantile = quantile
        self.target_utilization = target_utilization
        self.scale_in_window_s = scale_in_window_s
        self.scale_in_step = scale_in_step
        if scale_in_margin < 0:
            raise BadInput(f"scale_in_margin must be >= 0 replicas, got {scale_in_margin}", field="scale_in_margin")
        self.scale_in_margin = scale_in_margin
        self.calibration = calibration
        self.max_utilization = max_utilization
        self._needs: deque[tuple[float, int]] = deque()
        self._first_t: float | None = None

    def _bound(self, n: int) -> int:
        return int(min(max(n, self.min_replicas), self.max_replicas))

    def _peak(self, forecast: Forecast | None, start: float, end: float) -> float | None:
        if forecast is None or len(forecast) == 0:
            return None
        q = forecast.quantile(self.quantile)
        sel = (forecast.timestamps >= start) & (forecast.timestamps <= end) & np.isfinite(q)
        if not sel.any():  # the forecast steps are coarser than the window: take the step covering it
            after = np.flatnonzero((forecast.timestamps >= start) & np.isfinite(q))
            if after.size == 0:
                return None
            sel = np.zeros(q.shape, dtype=bool)
            sel[after[0]] = True
        return float(np.max(np.maximum(q[sel], 0.0)))

    def decide(
        self,
        now_s: float,
        current_replicas: int,
        current_demand: float,
        forecast: Forecast | None,
        *,
        observed: float | None = None,
    ) -> ScalingDecision:
        """Decide the replicas at ``now_s`` (unix seconds; the forecast's timestamps are absolute too).

        ``observed`` is the latest raw demand sample the calibrator scores its predictions with, when
        ``current_demand`` (the reactive need's input) is smoothed; it defaults to ``current_demand``.
        """
        if current_replicas < 0:
            raise BadInput(f"current_replicas must be >= 0, got {current_replicas}", field="current_replicas")
        if self._first_t is None:
            self._first_t = now_s
        demand_ok = math.isfinite(current_demand) and current_demand >= 0
        reactive = (
            replicas_for(current_demand, self.capacity_rps, self.target_utilization) if demand_ok else current_replicas
        )
        raw = current_demand if observed is None else observed
        bound = self.calibration.update(now_s, raw, forecast) if self.calibration else None
        peak_up: float | None
        peak_keep: float | None
        pred_up: int | None
        pred_keep: int | None
        if bound is not None:
            peak_up = peak_keep = bound.upper
            up_win = (bound.at, bound.at)
            pred_up = pred_keep = replicas_for(bound.upper, self.capacity_rps, self.max_utilization)
        else:
            horizon_end = now_s + self.prediction_horizon_s
            up_win = (now_s + self.startup_s, min(now_s + self.startup_s + self.lookahead_s, horizon_end))
            peak_up = self._peak(forecast, *up_win)
            peak_keep = self._peak(forecast, now_s, up_win[1])
            factor = (1.0 + self.scaling_buffer) / self.capacity_rps
            pred_up = math.ceil(peak_up * factor - 1e-9) if peak_up is not None else None
            pred_keep = math.ceil(peak_keep * factor - 1e-9) if peak_keep is not None else None
        need_up = self._bound(max(reactive, pred_up or 0))
        need_keep = self._bound(max(reactive, pred_keep or 0, need_up))
        self._needs.append((now_s, need_keep))
        while self._needs and self._needs[0][0] < now_s - self.scale_in_window_s:
            self._needs.popleft()
        src = "forecast" if pred_up is not None and pred_up >= reactive else "current load"
        if bound is not None and src == "forecast":
            src = _describe(bound)
        if peak_up is None:
            src = "current load (no forecast for the window)"
        if need_up > current_replicas:
            replicas = need_up
            reason = f"scale out to {replicas}: {src} needs {need_up}"
        else:
            replicas, reason = self._scale_in(now_s, current_replicas, src)
        replicas = self._bound(replicas)
        return ScalingDecision(
            replicas=replicas,
            reason=reason,
            reactive_replicas=reactive,
            predictive_replicas=pred_up,
            forecast_peak=peak_up,
            window=up_win if peak_up is not None else None,
            forecast=forecast,
        )

    def _scale_in(self, now_s: float, current: int, src: str) -> tuple[int, str]:
        held = max(n for _, n in self._needs)
        if current > self.max_replicas:
            return self.max_replicas, f"scale in to the maximum of {self.max_replicas}"
        if held >= current - self.scale_in_margin:
            spare = f" (within the scale-in margin of {self.scale_in_margin})" if held < current else ""
            return current, f"hold at {current}: {src} needs {held}{spare}"
        first = now_s if self._first_t is None else self._first_t
        if now_s - first < self.scale_in_window_s:
            return current, f"hold at {current}: need {held} not yet stable for {self.scale_in_window_s:.0f} s"
        step = max(1, math.floor(current * self.scale_in_step))
        target = max(held, current - step)
        return target, f"scale in to {target}: need stayed <= {held} for {self.scale_in_window_s:.0f} s"


def _describe(b: Bound) -> str:
    return f"calibrated bound {b.upper:.1f} req/s ({b.predictor} {b.predicted:.1f} + {b.quantile:.2f} x sqrt)"
