"""The predictive scaler: forecast each service's demand and set its replicas ahead of it.

Two layers:

- :class:`ServiceScaler` is pure (no clock, no I/O): it keeps one service's request-rate history on a
  regular grid, refits its forecaster every ``refit_s`` (between refits it only ``update``-s it with
  the new points), forecasts ``prediction_horizon`` ahead and asks
  :class:`~hx.scale.policy.PredictivePolicy` for the replicas (upper quantile + ``scaling_buffer``
  over per-replica capacity, early by the start-up time, never below the current load's need, bounded,
  scale-in stabilised).  The benchmark (``bench/scaling.py``) replays traces through this same class.
- :class:`PredictiveScaler` is the engine the runtime steps: for each service it reads new points from
  the signal source, decides, publishes ``scaling.decided`` (with the forecast summary and the reason)
  and -- in ``mode: act`` -- scales through the actuator, publishes ``scaling.acted`` and appends the
  action to the audit log.  In ``mode: recommend`` it only publishes.  In calibrated mode with
  ``calibration_alpha: auto`` (calibrated mode's default) it re-chooses each service's alpha every
  ``alpha_refresh_s`` from that service's own history (:func:`hx.scale.alpha.auto_alpha`), publishes
  ``scaling.alpha_chosen`` with the reason, and shows the choice in its status and health; until a
  service has enough history it keeps the previous choice or the conservative default, and says so.

Bad input, handled here once:

- history points are sorted and de-duplicated (:func:`~hx.forecast.base.regularize`); points at or
  before the last one seen are ignored; NaN / +-inf / negative rates are gaps;
- a horizon longer than the history supports is shortened to the history's length (the decision's
  reason says so); with too little history to fit at all the decision is reactive only;
- a service without a per-replica capacity cannot be scaled: :class:`~hx.errors.BadInput` from
  :class:`ServiceScaler`; the engine publishes one ``scaling.decided`` saying so and leaves it alone;
- the replica count returned is always a finite integer within ``[min_replicas, max_replicas]``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from hx.clock import WallClock
from hx.config import Scaling
from hx.errors import BadInput, EmptyResult, HxError, ModelError, NotFound, TelemetryError
from hx.events import ScalingActed, ScalingAlphaChosen, ScalingDecided
from hx.forecast.base import FORECASTERS, Forecast, Forecaster
from hx.forecast.series import clean_history
from hx.runtime import Learning
from hx.scale.alpha import DEFAULT_ALPHA, AlphaChoice, auto_alpha
from hx.scale.conformal import ConformalUpper
from hx.scale.policy import PredictivePolicy, ScalingDecision
from hx.store.leases import ServiceOwnership

if TYPE_CHECKING:
    from hx.actuate.base import Actuator
    from hx.platform import Platform
    from hx.telemetry.base import SignalSource

log = logging.getLogger(__name__)

ENGINE = "predictive-scaler"
#: where the current replica count is read, in order (the one source of truth; see ``_current_replicas``)
REPLICA_SIGNALS = ("desired_replicas", "replicas")
#: seconds between two looks for the profile (capacity) of a service that had none
PROFILE_RETRY_S = 60.0
#: seconds between two estimates of a capacity estimated from telemetry (it follows the service as it changes)
PROFILE_REFRESH_S = 300.0
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


def forecast_summary(fc: Forecast | None, quantile: float = 0.9) -> dict[str, Any] | None:
    """A small JSON summary of a forecast for events: model, span, mean/upper peaks, the quantile's peak."""
    if fc is None or len(fc) == 0:
        return None
    q = fc.quantile(quantile)
    return {
        "model": fc.model,
        "from": _iso(float(fc.timestamps[0])),
        "to": _iso(float(fc.timestamps[-1])),
        "steps": len(fc),
        "mean_min": round(float(np.min(fc.mean)), 3),
        "mean_max": round(float(np.max(fc.mean)), 3),
        "upper_max": round(float(np.max(fc.upper)), 3),
        "quantile": quantile,
        "quantile_max": round(float(np.max(q)), 3),
        "level": fc.level,
    }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


ProfileFn = Callable[[str], ServiceProfile | None]


@dataclass
class _Track:
    scaler: ServiceScaler | None
    profile: ServiceProfile | None
    last: dict[str, Any] = field(default_factory=dict)
    published: int | None = None
    published_at: float = -math.inf
    unscalable_reported: bool = False
    #: why the current replica count is unknown (None: it is known); reported once per outage
    no_count: str | None = None
    #: the last action asked of the actuator: (replicas, unix time), until the count reaches it or it settles
    pending: tuple[int, float] | None = None
    #: calibrated mode, alpha auto: the current choice, when it was made, and when the next one is due
    alpha: AlphaChoice | None = None
    alpha_at: float | None = None
    alpha_due: float = -math.inf
    #: why the last alpha what-if failed (None: it did not); shown in health until a choice succeeds
    alpha_error: str | None = None
    looked_up_at: float = -math.inf


class _AlphaJob:
    """One alpha what-if on its own (daemon) thread, so that an engine step on the wall clock is not held for
    the minute a week's what-if can take (the step's bound and the leader lease would lapse)."""

    def __init__(self, fn: Callable[[], AlphaChoice], name: str) -> None:
        self.result: AlphaChoice | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], AlphaChoice]) -> None:
        try:
            self.result = fn()
        except Exception as err:  # handed to the engine's next step, which records and shows it
            self.error = err

    def done(self) -> bool:
        return not self._thread.is_alive()


class PredictiveScaler:
    """The predictive-scaler engine: one :class:`ServiceScaler` per service, stepped by the runtime.

    ``profiles(service)`` gives each service's capacity and start-up time (None: unknown; see
    :func:`hx.scale.component.profiles_for`).  A ``scaling.decided`` event is published whenever the
    recommendation differs from the current replicas or from the last one published, and at least every
    ``publish_every_s`` per service; ``scaling.acted`` and an audit record follow every action.
    """

    def __init__(
        self,
        platform: Platform,
        source: SignalSource,
        actuator: Actuator | None,
        profiles: ProfileFn,
        *,
        config: ScalerConfig | None = None,
        mode: str | None = None,
        interval_s: float | None = None,
        signal_step_s: float = 60.0,
        publish_every_s: float = 3600.0,
        name: str = ENGINE,
    ) -> None:
        cfg = platform.settings.intelligent_monitoring.scaling
        self.platform = platform
        self.source = source
        self.actuator = actuator
        self.profiles = profiles
        self.config = config or ScalerConfig.from_settings(cfg)
        self.mode = mode or cfg.mode
        if self.mode not in ("act", "recommend"):
            raise BadInput(f"mode must be 'act' or 'recommend', got {self.mode!r}", field="mode")
        self.interval_s = float(interval_s if interval_s is not None else cfg.interval_s)
        self.signal_step_s = signal_step_s
        self.publish_every_s = publish_every_s
        self.name = name
        self.tracks: dict[str, _Track] = {}
        #: alpha what-ifs running on their own threads (wall clock only; in simulated time they run in the step)
        self._alpha_jobs: dict[str, _AlphaJob] = {}

    # ---- stepping ------------------------------------------------------------------------------

    def step(self, now: datetime) -> None:
        for service in self.source.services():
            self.step_service(service, now)

    def step_service(self, service: str, now: datetime) -> dict[str, Any] | None:
        """Decide (and act on) one service; returns the recommendation, None if it cannot be scaled."""
        track = self._track(service, now)
        if track.scaler is None:
            return None
        self._feed(service, track.scaler, now)
        if self.config.calibration_alpha == "auto":
            self._choose_alpha(service, track, now)
        current = self._current_replicas(service, now, track)
        if current is None:
            return None
        if track.pending is not None and (current == track.pending[0] or now.timestamp() >= self._settled(track)):
            track.pending = None
        demand = self._latest(service, "request_rate", now)
        d = track.scaler.decide(now.timestamp(), current, math.nan if demand is None else demand)
        rec = self._recommendation(service, now, current, demand, d, track)
        track.last = rec
        if self._should_publish(track, rec, now.timestamp()):
            self.platform.bus.publish(ScalingDecided.model_validate(rec), source=self.name, subject=service)
            track.published, track.published_at = d.replicas, now.timestamp()
        if self.mode == "act" and d.replicas != current and self.actuator is not None:
            if self._rollout_in_progress(service):
                # one controller at a time: a rollout owns the service's replicas until it ends
                rec["held"] = "a rollout of this service is in progress"
            elif track.pending is not None and track.pending[0] == d.replicas:
                # the same action was just asked for: wait for the count to reach it instead of asking again
                at = _iso(track.pending[1])
                rec["held"] = f"waiting for the scale to {d.replicas} asked at {at} (the count is still {current})"
            else:
                self._act(service, current, d, rec)
                track.pending = (d.replicas, now.timestamp())
        return rec

    def _choose_alpha(self, service: str, track: _Track, now: datetime) -> None:
        """Re-choose the service's alpha from its own history when due (:func:`hx.scale.alpha.auto_alpha`); with
        too little history keep the previous choice or the default, and look again within the hour.

        On the wall clock the what-if runs on its own thread and is applied at the first step after it ends (the
        previous alpha holds meanwhile); a what-if that fails is logged, shown in health and tried again within
        the hour.  In simulated time it runs within the step, so that replays are repeatable."""
        scaler, t = track.scaler, now.timestamp()
        if scaler is None:
            return
        job = self._alpha_jobs.get(service)
        if job is not None:
            if not job.done():
                return
            del self._alpha_jobs[service]
            if job.result is None:
                track.alpha_error = f"the alpha what-if failed: {type(job.error).__name__}: {job.error}"
                track.alpha_due = t + min(self.config.alpha_refresh_s, 3600.0)
                log.error("%s: %s: %s", self.name, service, track.alpha_error)
                return
            self._apply_alpha(service, track, job.result, t)
            return
        if t < track.alpha_due:
            return
        previous = track.alpha.alpha if track.alpha is not None else None
        ts, ys, profile, seen = scaler.ts, scaler.ys, scaler.profile, self._seen_demand(service, scaler, now)

        def run() -> AlphaChoice:
            return auto_alpha(ts, ys, profile, self.config, days=self.config.alpha_days, previous=previous, seen=seen)

        if isinstance(self.platform.clock, WallClock):
            self._alpha_jobs[service] = _AlphaJob(run, f"{self.name}-alpha-{service}")
            return
        self._apply_alpha(service, track, run(), t)

    def _apply_alpha(self, service: str, track: _Track, choice: AlphaChoice, t: float) -> None:
        scaler = track.scaler
        if scaler is None:
            return
        track.alpha_error = None
        retry = self.config.alpha_refresh_s if choice.chosen else min(self.config.alpha_refresh_s, 3600.0)
        first = track.alpha is None
        track.alpha, track.alpha_at, track.alpha_due = choice, t, t + retry
        scaler.set_alpha(choice.alpha)
        log.info("%s: %s: calibration alpha %s", self.name, service, choice.reason)
        if choice.chosen or first:
            self.platform.bus.publish(_alpha_event(service, choice), source=self.name, subject=service)

    def _settled(self, track: _Track) -> float:
        """When a pending action is given up on: the service's start-up time plus two signal steps after it."""
        startup = track.profile.startup_s if track.profile else 60.0
        return (track.pending[1] if track.pending else 0.0) + startup + 2 * self.signal_step_s

    def _rollout_in_progress(self, service: str) -> bool:
        """A rollout holds the service's ownership lease from its start to its end."""
        return ServiceOwnership(self.platform.store, self.platform.clock).owner(service) is not None

    def _track(self, service: str, now: datetime) -> _Track:
        """The service's track; a service without a profile is looked up again every ``PROFILE_RETRY_S`` (a
        fleet hx starts with has no history to estimate a capacity from yet)."""
        track = self.tracks.get(service)
        if track is not None and track.scaler is not None:
            self._refresh_estimate(service, track, now)
            return track
        if track is not None and now.timestamp() - track.looked_up_at < PROFILE_RETRY_S:
            return track
        profile = self.profiles(service)
        try:
            scaler = ServiceScaler(profile or ServiceProfile(None), self.config)
        except BadInput as err:
            scaler = None
            if track is None:  # reported once
                self.platform.bus.publish(
                    ScalingDecided(service=service, replicas=None, mode=self.mode, reason=f"cannot scale: {err}"),
                    source=self.name,
                    subject=service,
                )
        track = self.tracks[service] = _Track(scaler, profile, unscalable_reported=True if track else scaler is None)
        track.looked_up_at = now.timestamp()
        if scaler is not None:
            self._warm(service, scaler, now)
        return track

    def _refresh_estimate(self, service: str, track: _Track, now: datetime) -> None:
        """An estimated capacity is estimated again every ``PROFILE_REFRESH_S`` (a configured one is kept)."""
        old = track.profile
        if old is None or track.scaler is None or not old.origin.startswith("estimated"):
            return
        if now.timestamp() - track.looked_up_at < PROFILE_REFRESH_S:
            return
        track.looked_up_at = now.timestamp()
        new = self.profiles(service)
        if new is None or new.capacity_rps is None or not new.capacity_rps > 0 or new == old:
            return
        track.profile = new
        track.scaler.set_profile(new)
        log.info("%s: %s: capacity %.1f -> %.1f req/s per instance (%s)", self.name, service,
                 old.capacity_rps or 0.0, new.capacity_rps, new.origin)  # fmt: skip

    def _warm(self, service: str, scaler: ServiceScaler, now: datetime) -> None:
        start = now - timedelta(seconds=self.config.history_s)
        self._read_into(service, scaler, start, now)

    def _feed(self, service: str, scaler: ServiceScaler, now: datetime) -> None:
        last = scaler.last_t
        start = (
            now - timedelta(seconds=self.config.history_s)
            if last is None
            else datetime.fromtimestamp(last + self.config.grid_s, UTC)
        )
        if start <= now:
            self._read_into(service, scaler, start, now)

    def _read_into(self, service: str, scaler: ServiceScaler, start: datetime, now: datetime) -> None:
        grid = self.config.grid_s
        # grid points strictly before now only when their whole bucket has been observed
        end = datetime.fromtimestamp(math.floor(now.timestamp() / grid) * grid, UTC)
        start = datetime.fromtimestamp(math.ceil(start.timestamp() / grid) * grid, UTC)
        if end < start:
            return
        try:
            s = self.source.signal(service, "request_rate", start, end, grid)
        except (TelemetryError, NotFound) as err:
            log.warning("%s: no request_rate history for %s: %s", self.name, service, err)
            return
        scaler.observe(s.timestamps, s.values)

    def _seen_demand(self, service: str, scaler: ServiceScaler, now: datetime) -> tuple[FloatArray, FloatArray]:
        """The request rate at the signal step over the days an alpha what-if replays, as the scaler reads it
        to decide (from the source, a day a query; what the scaler kept itself where the source has none)."""
        kept_t, kept_v = scaler.seen()
        ts, vs = [kept_t], [kept_v]
        end = now.timestamp()
        t = end - (self.config.alpha_days + 2.0) * 86400.0
        while t < end:
            upto = min(t + 86400.0, end)
            try:
                s = self.source.signal(service, "request_rate", datetime.fromtimestamp(t, UTC),
                                       datetime.fromtimestamp(upto, UTC), self.signal_step_s)  # fmt: skip
            except (EmptyResult, NotFound):
                t = upto  # nothing that day (a younger service): the 5-minute means stand in
                continue
            except (TelemetryError, BadInput) as err:
                log.info("%s: %s: no request_rate at the signal step for the alpha what-if: %s", self.name,
                         service, err)  # fmt: skip
                break
            ts.append(np.asarray(s.timestamps, dtype=np.float64))
            vs.append(np.asarray(s.values, dtype=np.float64))
            t = upto
        return np.concatenate(ts), np.concatenate(vs)

    def _latest(self, service: str, signal: str, now: datetime) -> float | None:
        step = self.signal_step_s
        try:
            s = self.source.signal(service, signal, now - timedelta(seconds=10 * step), now, step)
        except (TelemetryError, NotFound, BadInput):
            return None
        return s.last()

    def _current_replicas(self, service: str, now: datetime, track: _Track) -> int | None:
        """The one source of truth for the replica count: the source's ``desired_replicas`` (what was asked of the
        fleet), else its ``replicas``.  Never the scaler's own last recommendation.  Missing: said once, with why."""
        for signal in REPLICA_SIGNALS:
            v = self._latest(service, signal, now)
            if v is not None and math.isfinite(v) and v >= 0:
                if track.no_count is not None:
                    log.info("%s: the replica count of %s is back (%s)", self.name, service, signal)
                track.no_count = None
                return round(v)
        if track.no_count is None:
            track.no_count = (
                f"no replica count for {service}: neither {' nor '.join(REPLICA_SIGNALS)} has a recent value in the "
                "signal source, so the scaler cannot decide (add the replicas signal to the telemetry templates)"
            )
            log.warning("%s: %s", self.name, track.no_count)
            self.platform.bus.publish(
                ScalingDecided(service=service, replicas=None, mode=self.mode, reason=track.no_count),
                source=self.name,
                subject=service,
            )
        return None

    def _recommendation(
        self, service: str, now: datetime, current: int, demand: float | None, d: ScalingDecision, track: _Track
    ) -> dict[str, Any]:
        return {
            "service": service,
            "at": now.isoformat(),
            "current_replicas": current,
            "replicas": d.replicas,
            "reactive_replicas": d.reactive_replicas,
            "predictive_replicas": d.predictive_replicas,
            "forecast_peak": None if d.forecast_peak is None else round(d.forecast_peak, 3),
            "window": [_iso(d.window[0]), _iso(d.window[1])] if d.window else None,
            "demand": None if demand is None else round(demand, 3),
            "reason": d.reason,
            "mode": self.mode,
            "profile": track.profile.to_dict() if track.profile else None,
            "forecast": forecast_summary(d.forecast, self.config.quantile),
        }

    def _should_publish(self, track: _Track, rec: Mapping[str, Any], now_s: float) -> bool:
        return (
            rec["replicas"] != rec["current_replicas"]
            or rec["replicas"] != track.published
            or now_s - track.published_at >= self.publish_every_s
        )

    def _act(self, service: str, current: int, d: ScalingDecision, rec: dict[str, Any]) -> None:
        actuator = self.actuator
        if actuator is None:
            return
        detail = {"before": current, "after": d.replicas, "reason": d.reason}
        try:
            res = actuator.scale(service, d.replicas)
        except HxError as err:
            self.platform.audit.append(self.name, "scale", service, "failed", {**detail, "error": str(err)})
            self.platform.bus.publish(
                ScalingActed.model_validate({**rec, **detail, "ok": False, "error": str(err)}), source=self.name,
                subject=service,
            )  # fmt: skip
            log.error("%s: scaling %s to %d failed: %s", self.name, service, d.replicas, err)
            return
        outcome = "ok" if res.ok else "failed"
        detail = _as_done(service, detail, res.output)
        self.platform.audit.append(self.name, "scale", service, outcome, {**detail, "detail": res.detail})
        self.platform.bus.publish(
            ScalingActed.model_validate({"service": service, **detail, "ok": res.ok, "detail": res.detail}),
            source=self.name, subject=service,
        )  # fmt: skip

    # ---- reading -------------------------------------------------------------------------------

    def recommendations(self) -> list[dict[str, Any]]:
        return [{**t.last, **_alpha_status(t)} for t in self.tracks.values() if t.last]

    def learning(self, now: datetime) -> Learning | None:
        """What the scaler waits for before it forecasts every service (None: it does)."""
        if not self.tracks:
            return Learning("the first step: no request_rate history read yet (it is backfilled from the source)")
        need = self._history_needed_s()
        short = {s: h for s, t in self.tracks.items() if t.scaler is not None and (h := _history_s(t.scaler)) < need}
        if not short:
            return None
        least = min(short, key=lambda s: short[s])
        text = (
            f"request_rate history for {len(short)} of {len(self.tracks)} services: the forecast needs "
            f"{need / 3600:.1f} h (its horizon, and the {self.config.forecaster} model's least history); "
            f"the shortest ({least}) has {short[least] / 3600:.1f} h, so it scales on the current load until then"
        )
        return Learning(text, now + timedelta(seconds=need - short[least]), {"services_learning": len(short)})

    def _history_needed_s(self) -> float:
        grid = self.config.grid_s
        return max(self.config.prediction_horizon_s, FORECASTERS.get(self.config.forecaster).min_points * grid)

    def health(self) -> dict[str, Any]:
        no_count = {s: t.no_count for s, t in self.tracks.items() if t.no_count is not None}
        failed = {s: f"{s}: {t.alpha_error}" for s, t in self.tracks.items() if t.alpha_error is not None}
        learning = self.learning(self.platform.clock.now())
        problems = [*no_count.values(), *failed.values()]
        status = "degraded" if problems else "learning" if learning is not None else "ok"
        return {
            "status": status,
            **({"reason": "; ".join(problems)} if problems else {}),
            **(learning.to_json() if learning is not None else {}),
            "mode": self.mode,
            "services": len(self.tracks),
            "unscalable": sorted(s for s, t in self.tracks.items() if t.scaler is None),
            "no_replica_count": sorted(no_count),
            **self._alpha_health(),
        }

    def _alpha_health(self) -> dict[str, Any]:
        if self.config.calibration_alpha != "auto":
            return {}
        per = {s: _alpha_status(t)["calibration"] for s, t in self.tracks.items() if t.alpha is not None}
        failed = {s: t.alpha_error for s, t in self.tracks.items() if t.alpha_error is not None}
        running = sorted(self._alpha_jobs)
        return {"calibration_alpha": "auto", "calibration": per, **({"alpha_errors": failed} if failed else {}),
                **({"alpha_choosing": running} if running else {})}  # fmt: skip


def _alpha_event(service: str, c: AlphaChoice) -> ScalingAlphaChosen:
    d = c.to_dict()
    window = [datetime.fromtimestamp(x, UTC) for x in c.window] if c.window else None
    return ScalingAlphaChosen(service=service, alpha=c.alpha, chosen=c.chosen, reason=c.reason, window=window,
                              hpa=d["hpa"], tried=d["tried"])  # fmt: skip


def _alpha_status(t: _Track) -> dict[str, Any]:
    """The calibrated alpha in use and why (empty unless the scaler chooses it itself)."""
    if t.alpha is None:
        return {}
    at = _iso(t.alpha_at) if t.alpha_at is not None else None
    return {"calibration": {"alpha": t.alpha.alpha, "chosen": t.alpha.chosen, "reason": t.alpha.reason, "at": at,
                            "next": _iso(t.alpha_due)}}  # fmt: skip


def _history_s(scaler: ServiceScaler) -> float:
    """The request-rate history a service scaler holds (real points only) in seconds."""
    return float(np.isfinite(scaler.ys).sum()) * scaler.config.grid_s


def _as_done(service: str, asked: dict[str, Any], output: Mapping[str, Any]) -> dict[str, Any]:
    """The action as the actuator says it was done: its own before and after when it reports them, and a reason
    whose verb (scale out / in) matches them, so no "scale in" is recorded for a change that raised replicas."""
    before, after = output.get("before"), output.get("after")
    if not (isinstance(before, int) and isinstance(after, int)):
        return asked
    done = {**asked, "before": before, "after": after}
    verb = "scale out" if after > before else "scale in" if after < before else "no change"
    if not str(asked["reason"]).startswith(verb) or before != asked["before"]:
        done["reason"] = f"{verb} {before} -> {after} (decided on {asked['before']} replicas: {asked['reason']})"
        log.warning("scaler: %s: the actuator changed %s -> %s while the replica count read was %s", service,
                    before, after, asked["before"])  # fmt: skip
    return done
