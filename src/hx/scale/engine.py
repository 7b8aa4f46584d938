"""The predictive scaler: forecast each service's demand and set its replicas ahead of it.

Two layers:

- :class:`~hx.scale.scaler.ServiceScaler` is pure (no clock, no I/O): it keeps one service's request-rate history on a
  regular grid, refits its forecaster every ``refit_s`` (between refits it only ``update``-s it with
  the new points), forecasts ``prediction_horizon`` ahead and asks
  :class:`~hx.scale.policy.PredictivePolicy` for the replicas (upper quantile + ``scaling_buffer``
  over per-replica capacity, early by the start-up time, never below the current load's need, bounded,
  scale-in stabilised).  The benchmark (``bench/scaling.py``) replays traces through this same class.
- :class:`PredictiveScaler` (this module) is the engine the runtime steps: for each service it reads new points from
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from hx.clock import WallClock
from hx.engine import Learning
from hx.errors import BadInput, EmptyResult, HxError, NotFound, TelemetryError
from hx.events import ScalingActed, ScalingAlphaChosen, ScalingDecided
from hx.forecast.base import FORECASTERS, Forecast
from hx.scale.alpha import AlphaChoice, auto_alpha
from hx.scale.policy import ScalingDecision
from hx.scale.scaler import FloatArray, ScalerConfig, ServiceProfile, ServiceScaler
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
        # the signal lags the fleet (a scrape, a deployment's own change): news only when the target was missed
        level = logging.WARNING if after != asked["after"] else logging.INFO
        log.log(level, "scaler: %s: the actuator found %s replicas and left %s; the scaler had decided on the %s "
                "read from the signal", service, before, after, asked["before"])  # fmt: skip
    return done
