"""Replay a traffic trace through the simulated fleet under a scaling policy (HPA, predictive, static peak).

The core of ``bench/scaling.py`` and ``hx scale simulate``.  A trace is scaled to one service's
request rate (its 99.5th percentile becomes ``peak_rps``); its last ``test_days`` are replayed through
:class:`hx.sim.Simulation` (60-second steps, Poisson request counts, replica start-up ``startup_s``),
and everything before them is the history the predictive policy is fitted on.  No look-ahead: the
predictive policy sees the training history, then each 5-minute bucket of the replay once it is over.

Policies (all start from the replicas the first minute needs at 70 % utilisation):

- ``hpa``: :class:`~hx.scale.hpa.HpaPolicy` (70 % target, 10 % tolerance, 15 s loop, no scale-up
  stabilisation, 300 s scale-down window, scale-up limit max(+4 pods, +100 %) per 15 s).  Its metric is
  the service's offered load over the capacity of all its replicas -- Kubernetes counts a not-yet-ready
  pod at 0 % on scale-up -- read once per simulated minute and evaluated at each of the minute's four
  15-second syncs (the rate limit applies per sync);
- ``predictive``: :class:`~hx.scale.scaler.ServiceScaler`, the predictive-scaler engine's own logic,
  deciding once a minute (the engine's default interval), with the engine's defaults unless a
  ``config`` is given -- the benchmark gives the calibrated mode of :func:`tune_predictive`;
- ``static``: the replicas the training history's peak (of 5-minute means) needs at 70 % utilisation,
  never changed.

Every change of the replica count is one scaling action.

Development split: :func:`development_split` replays the ``test_days`` just before the test period,
with the history before *them* to learn from -- what :func:`tune_predictive` chooses the calibrated
policy's ``alpha`` on, so nothing is tuned on the replayed test days.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hx.errors import BadInput
from hx.readers import TimeAxis, read_series, read_series_noted, repeat_note
from hx.scale.alpha import ALPHAS, COST_MARGIN, SLO_Z, AlphaChoice, Outcome, auto_alpha
from hx.scale.alpha import choose_alpha as choose_alpha  # the rule lives in the scaler; kept importable here
from hx.scale.hpa import HpaPolicy
from hx.scale.policy import replicas_for
from hx.scale.scaler import DEFAULT_ALPHA, ScalerConfig, ServiceProfile, ServiceScaler
from hx.sim import Simulation, load_trace, replica_minutes, slo_violation_minutes
from hx.sim.spec import SLO, FleetSpec, ServiceSpec, slo_targets
from hx.sim.traces import TRACE_NAMES, TrafficShape
from hx.telemetry.base import FloatArray

POLICIES: tuple[str, ...] = ("hpa", "predictive", "static")
SERVICE = "svc"
STEP_S = 60.0
GRID_S = 300.0
TARGET = 0.7
#: the most replicas a replayed policy scales to (HPA, predictive and static alike)
MAX_REPLICAS = 1000
#: days replayed by default: the last week, except Alibaba (7.8 days in all: its last two days)
DEFAULT_TEST_DAYS = {"nasa": 7.0, "azure": 7.0, "alibaba": 2.0}
MIN_TRAIN_DAYS = 1.0
#: the benchmark's predictive policy: the engine's calibrated mode (the flat 20 % buffer and 70 % floor
#: of the defaults cost more replica-hours than HPA on the development period of every trace).  The
#: calibrated bound is provisioned at 80 % utilisation (the simulated SLO targets are set at 1.2x the
#: p99 at 80 %), the reactive floor is the last start-up time's mean demand at 80 %, and scale-in
#: waits one start-up time (a replica removed sooner could not be back in time) with no step limit.
CALIBRATED: dict[str, float] = {
    "max_utilization": 0.8,
    "target_utilization": 0.8,
    "demand_window_s": 120.0,
    "scale_in_window_s": 120.0,
    "scale_in_step": 1.0,
}
#: the benchmark starts its predictive policies this long before the replayed days (not counted), so
#: that the calibration has a day of its own errors when the judged period begins
WARMUP_S = 86400.0


def usable_warmup(tr: ReplayTrace, want_s: float = WARMUP_S) -> float:
    """``want_s``, shortened so that at least :data:`MIN_TRAIN_DAYS` of history remain before the warm-up."""
    room = tr.test_start - float(tr.ts[0]) - MIN_TRAIN_DAYS * 86400.0
    return max(0.0, min(want_s, math.floor(room / 3600.0) * 3600.0))


@dataclass(frozen=True)
class ReplayTrace:
    """A trace as request rates (req/s; NaN = gap) on its own regular step, split into history and test."""

    name: str
    ts: FloatArray
    rps: FloatArray
    step_s: float
    test_start: float
    test_end: float
    #: what the reader should know of how the rows were read (rows repeating a time, averaged)
    notes: tuple[str, ...] = ()

    @property
    def train(self) -> tuple[FloatArray, FloatArray]:
        keep = self.ts + self.step_s <= self.test_start
        return self.ts[keep], self.rps[keep]

    def describe(self) -> dict[str, Any]:
        tr = self.train[0]
        return {
            "trace": self.name,
            "history": [_iso(float(tr[0])), _iso(self.test_start)] if tr.size else None,
            "replayed": [_iso(self.test_start), _iso(self.test_end)],
            "history_days": round((self.test_start - float(self.ts[0])) / 86400.0, 2),
            "replayed_days": round((self.test_end - self.test_start) / 86400.0, 2),
            **({"notes": list(self.notes)} if self.notes else {}),
        }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="minutes")


def read_csv_trace(path: str | Path, axis: TimeAxis | None = None) -> tuple[FloatArray, FloatArray]:
    """A CSV time series: a timestamp column (Unix seconds or ISO 8601), an index column with a declared step, or
    no time column with a declared step (see :mod:`hx.readers`); an empty cell is a gap."""
    return read_series(path, axis)


def prepare_trace(
    trace: str,
    *,
    test_days: float | None = None,
    peak_rps: float = 1000.0,
    data_dir: str | Path | None = None,
    resolution_s: float | None = None,
    axis: TimeAxis | None = None,
) -> ReplayTrace:
    """Load a named trace (nasa, alibaba, azure) or a CSV file and split it; ``test_days`` are replayed.

    ``resolution_s``: replay the trace's means over buckets of this length (see :func:`split_trace`).
    """
    laid = None  # a note when a file's times were laid from its step (it holds no dates)
    if trace in TRACE_NAMES:
        ts, vs = load_trace(trace, data_dir)
        name = trace
    elif Path(trace).is_file():
        ts, vs, laid = read_series_noted(trace, axis)
        name = Path(trace).name
    else:
        raise BadInput(
            f"no such file: {trace} (a trace is a CSV file or one of {', '.join(TRACE_NAMES)})", field="trace"
        )
    days = test_days or DEFAULT_TEST_DAYS.get(trace, 1.0)
    tr = split_trace(name, ts, vs, test_days=days, peak_rps=peak_rps, resolution_s=resolution_s)
    return replace(tr, notes=(laid, *tr.notes)) if laid else tr


def split_trace(
    name: str, ts: Any, vs: Any, *, test_days: float, peak_rps: float = 1000.0, resolution_s: float | None = None
) -> ReplayTrace:
    """Sort, de-duplicate and grid a raw series, scale it to ``peak_rps``, and keep ``test_days`` for replay.

    Negative and non-finite values are gaps (a trace with more than 1 % of its values below 0 is not a rate: refused);
    at least :data:`MIN_TRAIN_DAYS` of history must remain.
    ``resolution_s`` (at least the trace's step, dividing 300 s): replay the means of the rows present in
    buckets of that length (:func:`grid_history`) instead of the raw rows (the simulator interpolates
    between them).  Scaling a log of
    under a request a second up to a service's rate multiplies its minute-to-minute sampling noise
    along with its level; bucket means keep the traffic's shape with less of that noise, and put every
    trace at the 5-minute resolution the Alibaba and Azure traces come in.
    """
    from hx.forecast.series import clean_history

    if not (math.isfinite(test_days) and test_days > 0):
        raise BadInput(f"days must be > 0, got {test_days}", field="days")
    if not (math.isfinite(peak_rps) and peak_rps > 0):
        raise BadInput(f"peak_rps must be > 0, got {peak_rps}", field="peak_rps")
    raw = np.asarray(vs, dtype=np.float64).ravel()
    negative = int(np.sum(raw < 0))
    if negative > 0.01 * max(int(np.isfinite(raw).sum()), 1):
        raise BadInput(
            f"{name}: {negative} of {raw.size} values are below 0: a demand trace is a rate (requests per second or "
            "per minute), never negative; choose a rate column (--value-column)",
            field="values",
        )
    t, v = clean_history(ts, vs, None)
    if resolution_s is not None:
        raw_step = float(t[1] - t[0]) if t.size > 1 else STEP_S
        if not (math.isfinite(resolution_s) and resolution_s >= raw_step and GRID_S % resolution_s == 0):
            fix = (
                f"; a trace with rows over {GRID_S / 60:g} minutes apart cannot be replayed"
                if raw_step > GRID_S
                else ""
            )
            raise BadInput(
                f"{name}: --resolution must be at least the trace's step ({raw_step:.0f} s) and divide "
                f"{GRID_S:.0f} s, got {resolution_s:g}{fix}",
                field="resolution_s",
            )
        if resolution_s > raw_step:  # each bucket's mean, stamped at the bucket's start like a raw row
            g, v = grid_history(t, v, raw_step, resolution_s)
            t = g - resolution_s
    step = float(t[1] - t[0]) if t.size > 1 else STEP_S
    if step > GRID_S or GRID_S % step:
        from hx.readers import spacing

        coarse = step > GRID_S
        raise BadInput(
            f"{name}: rows {spacing(np.asarray(ts, dtype=np.float64))}: "
            + (
                f"too coarse to replay: the scaler decides every minute on the demand of the last {GRID_S / 60:g} "
                f"minutes, so the trace needs rows {GRID_S / 60:g} minutes apart or finer (hx forecast takes "
                "coarser files)"
                if coarse
                else f"the step ({step:g} s) must divide {GRID_S:g} s; replay bucket means with --resolution {GRID_S:g}"
            ),
            field="timestamps",
        )
    ok = np.isfinite(v)
    if ok.sum() < 4 or float(np.nanmax(v)) <= 0:
        raise BadInput(f"{name}: the trace needs at least 4 values and one above 0", field="values")
    scale = peak_rps / float(np.nanpercentile(v[ok], 99.5))
    end = float(t[-1]) + step
    start = math.ceil((end - test_days * 86400.0) / 3600.0) * 3600.0
    if start - float(t[0]) < MIN_TRAIN_DAYS * 86400.0:
        have = (end - float(t[0])) / 86400.0
        need = MIN_TRAIN_DAYS + test_days
        fix = "replay fewer days (--days)" if have > MIN_TRAIN_DAYS + 1.0 / 24 else f"give at least {need:g} days"
        raise BadInput(
            f"{name}: replaying {test_days:g} day{'' if test_days == 1 else 's'} of a "
            f"{f'{have * 24:.1f}-hour' if have < 2 else f'{have:.1f}-day'} trace leaves less than "
            f"{MIN_TRAIN_DAYS:g} day of history before them; {fix}",
            field="days",
        )
    repeats = repeat_note(np.asarray(ts, dtype=np.float64))
    notes = tuple(n for n in (repeats, _gap_note(t, v, step, start)) if n)
    return ReplayTrace(name, t, v * scale, step, start, end, notes)


def _gap_note(t: FloatArray, v: FloatArray, step_s: float, start: float) -> str | None:
    """A note when the replayed rows have gaps: the simulator interpolates demand across them (:func:`build_sim`),
    so the figures there are not the trace's.

    >>> _gap_note(np.arange(0.0, 600.0, 60.0), np.array([1.0] * 4 + [np.nan] * 3 + [1.0] * 3), 60.0, 0.0)
    'the replayed rows have 3 min without data (the longest gap 3 min): demand is interpolated across them'
    """
    missing = ~np.isfinite(v[t >= start])
    if not missing.any():
        return None
    edges = np.flatnonzero(np.diff(np.concatenate(([0], missing.astype(np.int8), [0]))))
    longest = int(np.max(edges[1::2] - edges[::2]))
    return (f"the replayed rows have {_minutes(float(missing.sum()) * step_s)} without data (the longest gap "
            f"{_minutes(longest * step_s)}): demand is interpolated across them")  # fmt: skip


def _minutes(seconds: float) -> str:
    """``45 min``, ``4.33 h``."""
    return f"{seconds / 60.0:.0f} min" if seconds < 7200.0 else f"{seconds / 3600.0:.3g} h"


def grid_history(
    ts: FloatArray, rps: FloatArray, step_s: float, grid_s: float = GRID_S
) -> tuple[FloatArray, FloatArray]:
    """Trailing means (the value at ``g`` is the mean over ``(g - grid_s, g]`` of the rows present; NaN when
    none is), like the live 5-minute signal."""
    ends = ts + step_s
    g = np.ceil(ends / grid_s - 1e-9) * grid_s
    ok = np.isfinite(rps)
    first, n = float(g[0]), round((g[-1] - g[0]) / grid_s) + 1
    idx = np.rint((g - first) / grid_s).astype(np.int64)
    sums = np.bincount(idx[ok], weights=rps[ok], minlength=n)
    counts = np.bincount(idx[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return first + grid_s * np.arange(n), np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def development_split(tr: ReplayTrace) -> ReplayTrace:
    """The same service's ``test_days`` before the test period, replayed with only the history before them."""
    span = tr.test_end - tr.test_start
    keep = tr.ts + tr.step_s <= tr.test_start
    ts, rps = tr.ts[keep], tr.rps[keep]
    start = tr.test_start - span
    if ts.size == 0 or start - float(ts[0]) < MIN_TRAIN_DAYS * 86400.0:
        raise BadInput(
            f"{tr.name}: a development period of {span / 86400.0:g} day(s) before the test leaves less than "
            f"{MIN_TRAIN_DAYS:g} day of history; replay fewer days",
            field="days",
        )
    return ReplayTrace(f"{tr.name} (development)", ts, rps, tr.step_s, start, tr.test_start)


# ---- controllers ----------------------------------------------------------------------------------


class Controller(Protocol):
    def decide(self, now_s: float, replicas: int, demand: float, sim: Simulation) -> int: ...


@dataclass
class HpaController:
    cap: float
    policy: HpaPolicy

    def decide(self, now_s: float, replicas: int, demand: float, sim: Simulation) -> int:
        out = replicas
        for k in range(int(STEP_S // 15.0)):  # the minute's four 15-second syncs
            util = demand / (max(out, 1) * self.cap) if math.isfinite(demand) else math.nan
            out = self.policy.decide(now_s + 15.0 * k, out, util)
        return out


@dataclass
class StaticController:
    replicas: int

    def decide(self, now_s: float, replicas: int, demand: float, sim: Simulation) -> int:
        return self.replicas


@dataclass
class PredictiveController:
    scaler: ServiceScaler
    startup_s: float
    band: list[tuple[float, float, float, float]] = field(default_factory=list)
    #: (ready at, the demand the decision provisioned for: the calibrated bound or the forecast's peak)
    provisioned: list[tuple[float, float]] = field(default_factory=list)

    def decide(self, now_s: float, replicas: int, demand: float, sim: Simulation) -> int:
        if now_s % GRID_S < 1e-6:  # a 5-minute bucket just closed: the scaler may see it
            t, v = sim.series(SERVICE, "request_rate", t_from=now_s - GRID_S + 1e-6, t_to=now_s)
            if t.size:
                self.scaler.observe([now_s], [float(np.nanmean(v))])
        d = self.scaler.decide(now_s, replicas, demand)
        fc = d.forecast
        if fc is not None and len(fc):
            at = now_s + self.startup_s
            m, lo, hi = (float(np.interp(at, fc.timestamps, a)) for a in (fc.mean, fc.lower, fc.upper))
            self.band.append((at, m, lo, hi))
        if d.forecast_peak is not None and math.isfinite(d.forecast_peak):
            self.provisioned.append((now_s + self.startup_s, d.forecast_peak))
        return d.replicas


# ---- the replay -----------------------------------------------------------------------------------


@dataclass
class ReplayResult:
    trace: str
    policy: str
    slo_violation_minutes: float
    replica_hours: float
    actions: int
    times: FloatArray
    demand: FloatArray
    replicas: FloatArray
    band: FloatArray | None
    meta: dict[str, Any] = field(default_factory=dict)
    #: predictive only: the demand each decision provisioned for, at the time its replicas are ready
    provisioned: FloatArray | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "trace": self.trace,
            "policy": self.policy,
            "slo_violation_minutes": round(self.slo_violation_minutes, 1),
            "replica_hours": round(self.replica_hours, 1),
            "actions": self.actions,
            **self.meta,
        }


def build_sim(
    tr: ReplayTrace, cap: float, startup_s: float, replicas: int, seed: int, start: float | None = None
) -> Simulation:
    idx = np.arange(tr.ts.size)
    ok = np.isfinite(tr.rps)
    filled = np.interp(idx, idx[ok], tr.rps[ok])  # the sim needs a level everywhere: gaps interpolated
    mean = float(filled.mean())
    shape = TrafficShape(filled / mean, tr.step_s, origin=float(tr.ts[0]), name=tr.name)
    slo = float(slo_targets(np.array([cap]), np.array([0.004]), [[]])[0])
    svc = ServiceSpec(SERVICE, capacity_rps=cap, replicas=replicas, base_rate_rps=mean, startup_s=startup_s,
                      slo=SLO(latency_p99_s=slo, error_rate=0.01), base_latency_s=0.004)  # fmt: skip
    spec = FleetSpec((svc,), shape=shape, nodes=4, seed=seed)
    at = datetime.fromtimestamp(tr.test_start if start is None else start, UTC)
    return Simulation(spec, step_s=STEP_S, start=at, history_mb=64.0)


def make_controller(
    policy: str, tr: ReplayTrace, cap: float, startup_s: float, config: ScalerConfig | None = None
) -> Controller:
    lo, hi = (config.min_replicas, config.max_replicas) if config else (1, MAX_REPLICAS)
    if policy == "hpa":
        return HpaController(cap, HpaPolicy(target=TARGET, min_replicas=lo, max_replicas=hi))
    if policy == "static":
        peak = float(np.nanmax(grid_history(*tr.train, tr.step_s)[1]))
        return StaticController(min(max(replicas_for(peak, cap, TARGET), lo), hi))
    if policy == "predictive":
        cfg = config or ScalerConfig(min_replicas=lo, max_replicas=hi, refit_s=86400.0)
        scaler = ServiceScaler(ServiceProfile(cap, startup_s, origin="replay"), cfg)
        scaler.observe(*grid_history(*tr.train, tr.step_s))
        return PredictiveController(scaler, startup_s)
    raise BadInput(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}", field="policy")


def replay(
    tr: ReplayTrace,
    policy: str,
    *,
    cap: float = 50.0,
    startup_s: float = 120.0,
    seed: int = 1,
    config: ScalerConfig | None = None,
    warmup_s: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Replay ``tr``'s test period under ``policy``; SLO-violation minutes, replica-hours and actions.

    ``warmup_s``: the policy starts running that long before the test period, on the same simulated
    service, fitted only on the history before *its* start; nothing of the warm-up is counted (a
    scaler in production has been running before any week one judges it on).
    """
    if not (math.isfinite(warmup_s) and warmup_s >= 0):
        raise BadInput(f"warmup_s must be >= 0 seconds, got {warmup_s}", field="warmup_s")
    start = math.floor((tr.test_start - warmup_s) / STEP_S) * STEP_S
    if warmup_s > 0 and start - float(tr.ts[0]) < MIN_TRAIN_DAYS * 86400.0:
        have = f"less than {MIN_TRAIN_DAYS:g} day of history"
        raise BadInput(f"a warm-up of {warmup_s:g} s leaves {have}; see usable_warmup", field="warmup_s")
    ctl = make_controller(policy, replace(tr, test_start=start), cap, startup_s, config)
    first = float(tr.rps[np.searchsorted(tr.ts, start)]) if tr.ts[-1] >= start else math.nan
    start_reps = max(1, replicas_for(first if math.isfinite(first) else 0.0, cap, TARGET))
    if isinstance(ctl, StaticController):
        start_reps = ctl.replicas
    sim = build_sim(tr, cap, startup_s, start_reps, seed, start)
    steps = int((tr.test_end - start) // STEP_S)
    reps, actions, test_reps = start_reps, 0, start_reps
    desired: list[int] = []
    every = max(1, steps // 50)
    for k in range(steps):
        sim.step()
        demand = float(sim.series(SERVICE, "request_rate", t_from=sim.t)[1][-1])
        new = ctl.decide(sim.t, reps, demand, sim)
        counted = sim.t > tr.test_start + 1e-6
        if not counted:
            test_reps = new
        if new != reps:
            sim.scale(SERVICE, new)
            reps, actions = new, actions + counted
        if counted:
            desired.append(reps)
        if progress is not None and (k % every == 0 or k == steps - 1):
            progress(k + 1, steps)
    t0 = tr.test_start + 1e-6
    times, demand_s = sim.series(SERVICE, "request_rate", t_from=t0)
    band = prov = None
    if isinstance(ctl, PredictiveController):
        band = _along(ctl.band, times)
        prov = _along(ctl.provisioned, times)
    meta: dict[str, Any] = {"start_replicas": test_reps}
    if warmup_s > 0:
        meta["warmup_days"] = round((tr.test_start - start) / 86400.0, 3)
    return ReplayResult(
        tr.name, policy, slo_violation_minutes(sim, t_from=t0), replica_minutes(sim, t_from=t0) / 60.0, actions,
        times, demand_s, np.asarray(desired[: times.size], dtype=np.float64), band, meta=meta,
        provisioned=None if prov is None else prov[0],
    )  # fmt: skip


def _along(rows: Sequence[tuple[float, ...]], times: FloatArray) -> FloatArray | None:
    """Rows of ``(t, v1, v2, ...)`` interpolated onto ``times`` (NaN outside them): shape (k, len(times))."""
    if not rows:
        return None
    b = np.array(rows)
    out = np.full((b.shape[1] - 1, times.size), np.nan)
    inside = (times >= b[0, 0]) & (times <= b[-1, 0])
    for i in range(b.shape[1] - 1):
        out[i, inside] = np.interp(times[inside], b[:, 0], b[:, i + 1])
    return out


# ---- choosing the calibrated policy on development data -------------------------------------------


@dataclass(frozen=True)
class Tuning:
    """The calibrated policy chosen on a development period, with what was tried there."""

    alpha: float
    config: ScalerConfig
    development: ReplayTrace
    hpa: Outcome
    tried: dict[float, Outcome]

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "settings": {**CALIBRATED, "calibration_alpha": self.alpha, "scaling_buffer": "not used (calibrated)"},
            "development": self.development.describe(),
            "hpa": {"slo_violation_minutes": self.hpa[0], "replica_hours": round(self.hpa[1], 1)},
            "tried": [
                {"alpha": k, "slo_violation_minutes": v[0], "replica_hours": round(v[1], 1)}
                for k, v in sorted(self.tried.items())
            ],
            "rule": (
                f"SLO-safe: v + {SLO_Z:g} sqrt(v) <= 0.5 x HPA's (0 if HPA has none); of those the smallest "
                f"alpha with replica-hours <= {1 - COST_MARGIN:g} x HPA's, else the cheapest SLO-safe one"
            ),
        }


def calibrated_config(alpha: float, base: ScalerConfig | None = None) -> ScalerConfig:
    """The benchmark's predictive settings (:data:`CALIBRATED`) with calibration ``alpha``."""
    cfg = base or ScalerConfig(min_replicas=1, max_replicas=MAX_REPLICAS, refit_s=86400.0)
    c = CALIBRATED
    return replace(
        cfg,
        calibration_alpha=alpha,
        max_utilization=c["max_utilization"],
        target_utilization=c["target_utilization"],
        demand_window_s=c["demand_window_s"],
        scale_in_window_s=c["scale_in_window_s"],
        scale_in_step=c["scale_in_step"],
    )


def tune_predictive(
    tr: ReplayTrace,
    *,
    cap: float = 50.0,
    startup_s: float = 120.0,
    seed: int = 1,
    alphas: Sequence[float] = ALPHAS,
) -> Tuning:
    """Choose the calibrated policy's ``alpha`` on ``tr``'s development split (never its test days).

    HPA replays the development days as it does the test days; each calibrated candidate is warmed up
    for :func:`usable_warmup` before them, as the benchmark warms it before the test days.
    """
    dev = development_split(tr)
    h = replay(dev, "hpa", cap=cap, startup_s=startup_s, seed=seed)
    hpa = (h.slo_violation_minutes, h.replica_hours)
    tried: dict[float, Outcome] = {}

    warm = usable_warmup(dev)

    def evaluate(alpha: float) -> Outcome:
        cfg = calibrated_config(alpha)
        r = replay(dev, "predictive", cap=cap, startup_s=startup_s, seed=seed, config=cfg, warmup_s=warm)
        tried[alpha] = (r.slo_violation_minutes, r.replica_hours)
        return tried[alpha]

    alpha = choose_alpha(alphas, evaluate, hpa)
    return Tuning(alpha, calibrated_config(alpha), dev, hpa, tried)


def auto_choice(
    tr: ReplayTrace, *, cap: float = 50.0, startup_s: float = 120.0, days: float = 7.0
) -> tuple[AlphaChoice, ScalerConfig]:
    """The engine's own rule (:func:`hx.scale.alpha.auto_alpha`) on ``tr``'s history before the replayed days:
    what-ifs of the last ``days`` of it (fewer when it is shorter), never the replayed days themselves.

    A trace finer than the 5-minute grid gives the what-ifs its own rows as the demand seen each minute, as
    the engine keeps the demand it decided on."""
    base = calibrated_config(DEFAULT_ALPHA)
    seen = tr.train if tr.step_s < GRID_S else None
    choice = auto_alpha(*grid_history(*tr.train, tr.step_s), ServiceProfile(cap, startup_s, origin="replay"), base,
                        days=days, seen=seen)  # fmt: skip
    return choice, calibrated_config(choice.alpha)
