"""One service's scaler, pure (no clock, no I/O): history on a grid, forecast, replicas.

:class:`ServiceScaler` keeps one service's request-rate history on a regular grid, refits its forecaster every
``refit_s`` (between refits it only ``update``-s it with the new points), forecasts ``prediction_horizon`` ahead
and asks :class:`~hx.scale.policy.PredictivePolicy` for the replicas (upper quantile + ``scaling_buffer`` over
per-replica capacity, early by the start-up time, never below the current load's need, bounded, scale-in
stabilised; or, in calibrated mode, the :class:`~hx.scale.conformal.ConformalUpper` bound).  The engine
(:class:`hx.scale.engine.PredictiveScaler`), the alpha what-if (:mod:`hx.scale.alpha`) and the benchmark
(``bench/scaling.py``) all run this same class.

Bad input: history points are sorted and de-duplicated; points at or before the last one seen are ignored;
NaN / +-inf / negative rates are gaps; a horizon longer than the history supports is shortened; a service
without a per-replica capacity is :class:`~hx.errors.BadInput`; the replica count returned is always a finite
integer within ``[min_replicas, max_replicas]``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hx.config import Scaling
from hx.errors import BadInput, ModelError
from hx.forecast.base import FORECASTERS, Forecast, Forecaster
from hx.forecast.series import clean_history
from hx.scale.conformal import ConformalUpper
from hx.scale.policy import PredictivePolicy, ScalingDecision

#: the calibration alpha used until a service has enough history to choose its own (the cautious end of
#: :data:`hx.scale.alpha.ALPHAS`)
DEFAULT_ALPHA = 0.01
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ServiceProfile:
    """What the scaler must know about a service: one replica's capacity (req/s) and its start-up time."""

    capacity_rps: float | None
    startup_s: float = 60.0
    origin: str = "configured"

    def to_dict(self) -> dict[str, Any]:
        return {"capacity_rps": self.capacity_rps, "startup_s": self.startup_s, "origin": self.origin}


@dataclass(frozen=True)
class ScalerConfig:
    """Tuning of :class:`ServiceScaler` (the settings' ``scaling`` plus model choices)."""

    prediction_horizon_s: float = 3600.0
    scaling_buffer: float = 0.2
    target_utilization: float = 0.7
    min_replicas: int = 1
    max_replicas: int = 100
    forecaster: str = "holt_winters"
    grid_s: float = 300.0
    history_s: float = 21 * 86400.0
    refit_s: float = 6 * 3600.0
    quantile: float = 0.9
    lookahead_s: float = 600.0
    scale_in_window_s: float = 600.0
    scale_in_step: float = 0.2
    #: scale in only when the need is more than this many replicas below the current count (hysteresis)
    scale_in_margin: int = 0
    #: the reactive need uses the mean demand over this trailing window (0: the latest sample only)
    demand_window_s: float = 0.0
    #: calibrated mode (None: off, the documented default of quantile + ``scaling_buffer``): the demand
    #: bound one start-up ahead is exceeded at about this rate (:class:`~hx.scale.conformal.ConformalUpper`);
    #: ``"auto"``: chosen per service from its own history (:mod:`hx.scale.alpha`; the engine re-chooses it
    #: every ``alpha_refresh_s``), :data:`~hx.scale.alpha.DEFAULT_ALPHA` until then
    calibration_alpha: float | Literal["auto"] | None = None
    #: calibrated mode: the utilisation the calibrated bound is provisioned at (the SLO's limit)
    max_utilization: float = 0.8
    #: calibrated mode: the trailing window of prediction errors the quantile is taken over
    calibration_window_s: float = 86400.0
    #: calibrated mode, alpha auto: seconds between re-choices, and the days of own history judged
    alpha_refresh_s: float = 86400.0
    alpha_days: float = 7.0

    @classmethod
    def from_settings(cls, cfg: Scaling, **overrides: Any) -> ScalerConfig:
        base = {
            "prediction_horizon_s": float(cfg.prediction_horizon),
            "scaling_buffer": cfg.scaling_buffer,
            "target_utilization": cfg.target_utilization,
            "min_replicas": cfg.min_replicas,
            "max_replicas": cfg.max_replicas,
            "calibration_alpha": cfg.effective_alpha,
            "max_utilization": cfg.max_utilization,
            "alpha_refresh_s": cfg.alpha_refresh_s,
            "alpha_days": cfg.alpha_days,
            "scale_in_window_s": cfg.scale_in_window_s,
        }
        return cls(**{**base, **overrides})


@dataclass(frozen=True)
class _CachedForecast(Forecast):
    """A forecast that remembers its quantiles (the policy asks for the same one every minute)."""

    cache: dict[float, FloatArray] = field(default_factory=dict, repr=False, compare=False)

    def quantile(self, q: float) -> FloatArray:
        if q not in self.cache:
            self.cache[q] = super().quantile(q)
        return self.cache[q]


def _calibration(profile: ServiceProfile, cfg: ScalerConfig) -> ConformalUpper | None:
    alpha = cfg.calibration_alpha
    if alpha is None:
        return None
    if alpha == "auto":
        alpha = DEFAULT_ALPHA
    if not isinstance(alpha, float | int) or not 0 < alpha < 1:
        raise BadInput(f"calibration_alpha must be in (0, 1) or 'auto', got {alpha!r}", field="calibration_alpha")
    return ConformalUpper(profile.startup_s, float(alpha), window_s=cfg.calibration_window_s)


class ServiceScaler:
    """One service's forecaster and policy (pure).  ``observe`` new points, then ``decide``.

    >>> t = np.arange(0.0, 3 * 86400.0, 300.0)
    >>> s = ServiceScaler(ServiceProfile(100.0, startup_s=120.0), ScalerConfig(forecaster="seasonal_naive"))
    >>> s.observe(t, 400.0 + 300.0 * np.sin(2 * np.pi * t / 86400.0))
    >>> d = s.decide(float(t[-1]), current_replicas=5, current_demand=400.0)
    >>> d.replicas >= 6, d.predictive_replicas is not None
    (True, True)
    """

    def __init__(self, profile: ServiceProfile, config: ScalerConfig | None = None) -> None:
        self.profile = profile
        self.config = cfg = config or ScalerConfig()
        if not (math.isfinite(cfg.grid_s) and cfg.grid_s > 0):
            raise BadInput(f"grid_s must be > 0 seconds, got {cfg.grid_s}", field="grid_s")
        self.policy = PredictivePolicy(
            profile.capacity_rps,
            startup_s=profile.startup_s,
            min_replicas=cfg.min_replicas,
            max_replicas=cfg.max_replicas,
            prediction_horizon_s=cfg.prediction_horizon_s,
            lookahead_s=cfg.lookahead_s,
            scaling_buffer=cfg.scaling_buffer,
            quantile=cfg.quantile,
            target_utilization=cfg.target_utilization,
            scale_in_window_s=cfg.scale_in_window_s,
            scale_in_step=cfg.scale_in_step,
            scale_in_margin=cfg.scale_in_margin,
            calibration=_calibration(profile, cfg),
            max_utilization=cfg.max_utilization,
        )
        self.template: Forecaster = FORECASTERS.get(cfg.forecaster)(step=cfg.grid_s)
        self.model: Forecaster | None = None
        self.ts: FloatArray = np.zeros(0)
        self.ys: FloatArray = np.zeros(0)
        self.fitted_at: float | None = None
        self.fit_error: str | None = None
        self._pending: tuple[FloatArray, FloatArray] | None = None
        self._forecast: Forecast | None = None
        self._note = ""
        self._demand: deque[tuple[float, float]] = deque()
        #: the demand each decision was made on, over the days an alpha what-if replays (and its warm-up)
        self._seen: deque[tuple[float, float]] = deque()
        self._seen_s = (cfg.alpha_days + 2.0) * 86400.0

    def set_profile(self, profile: ServiceProfile) -> None:
        """Use ``profile``'s capacity from the next decision on (the history and the forecaster are kept)."""
        if profile.capacity_rps is None or not (math.isfinite(profile.capacity_rps) and profile.capacity_rps > 0):
            raise BadInput(f"per-replica capacity must be > 0 req/s, got {profile.capacity_rps}", field="capacity_rps")
        self.profile = profile
        self.policy.capacity_rps = float(profile.capacity_rps)

    @property
    def alpha(self) -> float | None:
        """The calibrated bound's current alpha (None: calibrated mode is off)."""
        cal = self.policy.calibration
        return None if cal is None else cal.alpha

    def set_alpha(self, alpha: float) -> None:
        """Use ``alpha`` from the next decision on (calibrated mode only; the errors seen so far are kept)."""
        cal = self.policy.calibration
        if cal is None:
            raise BadInput("calibrated mode is off: there is no alpha to set", field="calibration_alpha")
        if not 0 < alpha < 1:
            raise BadInput(f"calibration_alpha must be in (0, 1), got {alpha}", field="calibration_alpha")
        cal.alpha = float(alpha)

    # ---- history -------------------------------------------------------------------------------

    @property
    def last_t(self) -> float | None:
        return float(self.ts[-1]) if self.ts.size else None

    def observe(self, timestamps: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Add request-rate points (req/s, unix seconds); older-than-seen points are ignored."""
        ts = np.asarray(timestamps, dtype=np.float64).ravel()
        vs = np.asarray(values, dtype=np.float64).ravel()
        if ts.shape != vs.shape:
            raise BadInput(f"{ts.shape[0]} timestamps but {vs.shape[0]} values", field="values")
        keep = np.isfinite(ts)
        if self.ts.size:
            keep &= ts > self.ts[-1] + self.config.grid_s / 2
        if not keep.any():
            return
        t, v = clean_history(ts[keep], vs[keep], self.config.grid_s)
        if self.ts.size:  # stay on the existing grid
            k = np.rint((t - self.ts[0]) / self.config.grid_s)
            t = self.ts[0] + k * self.config.grid_s
            ok = t > self.ts[-1]
            t, v = t[ok], v[ok]
        self.ts = np.concatenate([self.ts, t])
        self.ys = np.concatenate([self.ys, v])
        cut = self.ts[-1] - self.config.history_s
        if self.ts[0] < cut:
            first = int(np.searchsorted(self.ts, cut))
            self.ts, self.ys = self.ts[first:], self.ys[first:]
        if self.model is not None and t.size:
            pt, pv = self._pending if self._pending is not None else (np.zeros(0), np.zeros(0))
            self._pending = (np.concatenate([pt, t]), np.concatenate([pv, v]))
        self._forecast = None

    # ---- forecasting ---------------------------------------------------------------------------

    def _refit(self, now_s: float) -> None:
        self.fitted_at = now_s
        self._pending = None
        try:
            self.model = self.template.clone().fit(self.ts, self.ys)
            self.fit_error = None
        except (BadInput, ModelError) as err:
            self.model, self.fit_error = None, str(err)

    def forecast(self, now_s: float) -> Forecast | None:
        """The current forecast (refitting or updating the model first when due); None when impossible."""
        if self.ts.size == 0:
            self._note = "no history yet"
            return None
        if self.model is None or self.fitted_at is None or now_s - self.fitted_at >= self.config.refit_s:
            if self.model is None and self.fitted_at is not None and now_s - self.fitted_at < self.config.grid_s:
                return None  # the last fit failed moments ago: wait for more data
            self._refit(now_s)
            self._forecast = None
        if self.model is None:
            self._note = f"no forecast: {self.fit_error}"
            return None
        if self._pending is not None:
            self.model.update(*self._pending)
            self._pending = None
        if self._forecast is None:
            self._forecast = self._make_forecast()
        return self._forecast

    def _make_forecast(self) -> Forecast | None:
        model = self.model
        if model is None:
            return None
        want = max(1, math.ceil(self.config.prediction_horizon_s / self.config.grid_s))
        have = int(model.y_.shape[0])
        h = min(want, have)
        self._note = "" if h == want else f"horizon cut to {h * self.config.grid_s:.0f} s (the history's length)"
        try:
            fc = model.forecast(h)
        except (BadInput, ModelError) as err:
            self._note = f"no forecast: {err}"
            return None
        return _CachedForecast(fc.timestamps, fc.mean, fc.lower, fc.upper, fc.level, fc.model, fc.meta)

    # ---- deciding ------------------------------------------------------------------------------

    def decide(self, now_s: float, current_replicas: int, current_demand: float) -> ScalingDecision:
        """The replicas to run from ``now_s`` on (always a finite int within the bounds)."""
        if current_replicas < 0:
            raise BadInput(f"current_replicas must be >= 0, got {current_replicas}", field="current_replicas")
        return self.decide_on(now_s, current_replicas, current_demand, self.forecast(now_s))

    def decide_on(
        self, now_s: float, current_replicas: int, current_demand: float, fc: Forecast | None
    ) -> ScalingDecision:
        """:meth:`decide` with a forecast made elsewhere (a what-if shares one run of the forecaster)."""
        demand = float(current_demand)
        if math.isfinite(demand) and demand >= 0:
            self._seen.append((now_s, demand))
            while self._seen[0][0] <= now_s - self._seen_s:
                self._seen.popleft()
        d = self.policy.decide(now_s, int(current_replicas), self._smoothed(now_s, demand), fc, observed=demand)
        reps = d.replicas if isinstance(d.replicas, int) and d.replicas >= 0 else current_replicas
        reps = int(min(max(reps, self.config.min_replicas), self.config.max_replicas))
        reason = d.reason + (f" ({self._note})" if self._note else "")
        return ScalingDecision(reps, reason, d.reactive_replicas, d.predictive_replicas, d.forecast_peak, d.window, fc)

    def seen(self) -> tuple[FloatArray, FloatArray]:
        """(times, values) of the demand the last decisions were made on (what an alpha what-if replays)."""
        if not self._seen:
            return np.zeros(0), np.zeros(0)
        arr = np.asarray(self._seen, dtype=np.float64)
        return arr[:, 0], arr[:, 1]

    def _smoothed(self, now_s: float, demand: float) -> float:
        if self.config.demand_window_s <= 0 or not (math.isfinite(demand) and demand >= 0):
            return demand
        self._demand.append((now_s, demand))
        while self._demand and self._demand[0][0] <= now_s - self.config.demand_window_s:
            self._demand.popleft()
        return float(np.mean([v for _, v in self._demand]))
