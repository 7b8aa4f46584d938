"""Replay a traffic trace through the simulated fleet under a scaling policy (HPA, predictive, static peak).

The core of ``bench/scaling.py`` and ``hx scale simulate``.  A trace is scaled to one service's
request rate (its 99.5th percentile becomes ``peak_rps``); its last ``test_days`` are replayed through
:class:`hx.sim.Simulation` (60-second steps, Poisson request counts, replica start-up ``startup_s``),
and everything before them is the history the predictive policy is fitted on.  No look-ahead: the
predictive policy sees the training history, then each 5-minute bucket of the replay once it is over.

Policies (all start from the replicas the first minute needs at 70 % utilisation):

- ``hpa``: :class:`~hx.forecast.hpa.HpaPolicy` (70 % target, 10 % tolerance, 15 s loop, no scale-up
  stabilisation, 300 s scale-down window, scale-up limit max(+4 pods, +100 %) per 15 s).  Its metric is
  the service's offered load over the capacity of all its replicas -- Kubernetes counts a not-yet-ready
  pod at 0 % on scale-up -- read once per simulated minute and evaluated at each of the minute's four
  15-second syncs (the rate limit applies per sync);
- ``predictive``: :class:`~hx.forecast.engine.ServiceScaler`, the predictive-scaler engine's own logic,
  deciding once a minute (the engine's default interval);
- ``static``: the replicas the training history's peak (of 5-minute means) needs at 70 % utilisation,
  never changed.

Every change of the replica count is one scaling action.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hx.errors import BadInput
from hx.forecast.engine import ScalerConfig, ServiceProfile, ServiceScaler
from hx.forecast.hpa import HpaPolicy
from hx.forecast.predictive import replicas_for
from hx.sim import Simulation, load_trace, replica_minutes, slo_violation_minutes
from hx.sim.spec import SLO, FleetSpec, ServiceSpec, slo_targets
from hx.sim.traces import TRACE_NAMES, TrafficShape
from hx.telemetry.base import FloatArray

POLICIES: tuple[str, ...] = ("hpa", "predictive", "static")
SERVICE = "svc"
STEP_S = 60.0
GRID_S = 300.0
TARGET = 0.7
#: days replayed by default: the last week, except Alibaba (7.8 days in all: its last two days)
DEFAULT_TEST_DAYS = {"nasa": 7.0, "azure": 7.0, "alibaba": 2.0}
MIN_TRAIN_DAYS = 1.0


@dataclass(frozen=True)
class ReplayTrace:
    """A trace as request rates (req/s; NaN = gap) on its own regular step, split into history and test."""

    name: str
    ts: FloatArray
    rps: FloatArray
    step_s: float
    test_start: float
    test_end: float

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
        }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="minutes")


def read_csv_trace(path: str | Path) -> tuple[FloatArray, FloatArray]:
    """A CSV of ``timestamp,value`` rows (unix seconds or ISO-8601; a header row is allowed; empty = gap)."""
    ts: list[float] = []
    vs: list[float] = []
    with Path(path).open(newline="") as fh:
        for i, row in enumerate(csv.reader(fh)):
            if len(row) < 2 or not row[0].strip():
                continue
            try:
                t = _parse_time(row[0].strip())
            except ValueError:
                if i == 0:
                    continue  # header
                raise BadInput(f"{path}: row {i + 1}: bad timestamp {row[0]!r}", field="timestamp") from None
            cell = row[1].strip()
            try:
                vs.append(float(cell) if cell and cell.lower() != "nan" else math.nan)
            except ValueError:
                raise BadInput(f"{path}: row {i + 1}: bad value {cell!r}", field="value") from None
            ts.append(t)
    if len(ts) < 4:
        raise BadInput(f"{path}: need at least 4 rows of timestamp,value", field="path")
    return np.array(ts), np.array(vs)


def _parse_time(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        d = datetime.fromisoformat(cell)
        return (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()


def prepare_trace(
    trace: str, *, test_days: float | None = None, peak_rps: float = 1000.0, data_dir: str | Path | None = None
) -> ReplayTrace:
    """Load a named trace (nasa, alibaba, azure) or a CSV file and split it; ``test_days`` are replayed."""
    if trace in TRACE_NAMES:
        ts, vs = load_trace(trace, data_dir)
        name = trace
    elif Path(trace).is_file():
        ts, vs = read_csv_trace(trace)
        name = Path(trace).name
    else:
        raise BadInput(f"trace must be one of {', '.join(TRACE_NAMES)} or a CSV file; got {trace!r}", field="trace")
    return split_trace(name, ts, vs, test_days=test_days or DEFAULT_TEST_DAYS.get(trace, 1.0), peak_rps=peak_rps)


def split_trace(name: str, ts: Any, vs: Any, *, test_days: float, peak_rps: float = 1000.0) -> ReplayTrace:
    """Sort, de-duplicate and grid a raw series, scale it to ``peak_rps``, and keep ``test_days`` for replay.

    Negative and non-finite values are gaps; at least :data:`MIN_TRAIN_DAYS` of history must remain.
    """
    from hx.forecast.engine import clean_history

    if not (math.isfinite(test_days) and test_days > 0):
        raise BadInput(f"days must be > 0, got {test_days}", field="days")
    if not (math.isfinite(peak_rps) and peak_rps > 0):
        raise BadInput(f"peak_rps must be > 0, got {peak_rps}", field="peak_rps")
    t, v = clean_history(ts, vs, None)
    step = float(t[1] - t[0]) if t.size > 1 else STEP_S
    if step > GRID_S or GRID_S % step:
        raise BadInput(f"trace step {step:.0f} s must divide {GRID_S:.0f} s", field="timestamps")
    ok = np.isfinite(v)
    if ok.sum() < 4 or float(np.nanmax(v)) <= 0:
        raise BadInput("the trace has no positive values", field="values")
    scale = peak_rps / float(np.nanpercentile(v[ok], 99.5))
    end = float(t[-1]) + step
    start = math.ceil((end - test_days * 86400.0) / 3600.0) * 3600.0
    if start - float(t[0]) < MIN_TRAIN_DAYS * 86400.0:
        have = (end - float(t[0])) / 86400.0
        raise BadInput(
            f"replaying {test_days:g} days of a {have:.1f}-day trace leaves less than {MIN_TRAIN_DAYS:g} day of "
            "history; replay fewer days",
            field="days",
        )
    return ReplayTrace(name, t, v * scale, step, start, end)


def grid_history(ts: FloatArray, rps: FloatArray, step_s: float) -> tuple[FloatArray, FloatArray]:
    """Trailing 5-minute means (the value at ``g`` is the mean over ``(g - 300, g]``), like the live signal."""
    ends = ts + step_s
    g = np.ceil(ends / GRID_S - 1e-9) * GRID_S
    ok = np.isfinite(rps)
    first, n = float(g[0]), round((g[-1] - g[0]) / GRID_S) + 1
    idx = np.rint((g - first) / GRID_S).astype(np.int64)
    sums = np.bincount(idx[ok], weights=rps[ok], minlength=n)
    counts = np.bincount(idx[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return first + GRID_S * np.arange(n), np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


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

    def summary(self) -> dict[str, Any]:
        return {
            "trace": self.trace,
            "policy": self.policy,
            "slo_violation_minutes": round(self.slo_violation_minutes, 1),
            "replica_hours": round(self.replica_hours, 1),
            "actions": self.actions,
            **self.meta,
        }


def build_sim(tr: ReplayTrace, cap: float, startup_s: float, replicas: int, seed: int) -> Simulation:
    idx = np.arange(tr.ts.size)
    ok = np.isfinite(tr.rps)
    filled = np.interp(idx, idx[ok], tr.rps[ok])  # the sim needs a level everywhere: gaps interpolated
    mean = float(filled.mean())
    shape = TrafficShape(filled / mean, tr.step_s, origin=float(tr.ts[0]), name=tr.name)
    slo = float(slo_targets(np.array([cap]), np.array([0.004]), [[]])[0])
    svc = ServiceSpec(SERVICE, capacity_rps=cap, replicas=replicas, base_rate_rps=mean, startup_s=startup_s,
                      slo=SLO(latency_p99_s=slo, error_rate=0.01), base_latency_s=0.004)  # fmt: skip
    spec = FleetSpec((svc,), shape=shape, nodes=4, seed=seed)
    return Simulation(spec, step_s=STEP_S, start=datetime.fromtimestamp(tr.test_start, UTC), history_mb=64.0)


def make_controller(
    policy: str, tr: ReplayTrace, cap: float, startup_s: float, config: ScalerConfig | None = None
) -> Controller:
    lo, hi = (config.min_replicas, config.max_replicas) if config else (1, 1000)
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
    progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Replay ``tr``'s test period under ``policy``; SLO-violation minutes, replica-hours and actions."""
    ctl = make_controller(policy, tr, cap, startup_s, config)
    first = float(tr.rps[np.searchsorted(tr.ts, tr.test_start)]) if tr.ts[-1] >= tr.test_start else math.nan
    start_reps = max(1, replicas_for(first if math.isfinite(first) else 0.0, cap, TARGET))
    if isinstance(ctl, StaticController):
        start_reps = ctl.replicas
    sim = build_sim(tr, cap, startup_s, start_reps, seed)
    steps = int((tr.test_end - tr.test_start) // STEP_S)
    reps, actions = start_reps, 0
    desired = np.empty(steps)
    every = max(1, steps // 50)
    for k in range(steps):
        sim.step()
        demand = float(sim.series(SERVICE, "request_rate", t_from=sim.t)[1][-1])
        new = ctl.decide(sim.t, reps, demand, sim)
        if new != reps:
            sim.scale(SERVICE, new)
            reps, actions = new, actions + 1
        desired[k] = reps
        if progress is not None and (k % every == 0 or k == steps - 1):
            progress(k + 1, steps)
    times, demand_s = sim.series(SERVICE, "request_rate")
    band = _band(ctl, times) if isinstance(ctl, PredictiveController) else None
    return ReplayResult(
        tr.name, policy, slo_violation_minutes(sim), replica_minutes(sim) / 60.0, actions, times, demand_s,
        desired[: times.size], band, meta={"start_replicas": start_reps},
    )  # fmt: skip


def _band(ctl: PredictiveController, times: FloatArray) -> FloatArray | None:
    if not ctl.band:
        return None
    b = np.array(ctl.band)
    out = np.full((3, times.size), np.nan)
    inside = (times >= b[0, 0]) & (times <= b[-1, 0])
    for i in range(3):
        out[i, inside] = np.interp(times[inside], b[:, 0], b[:, i + 1])
    return out
