"""Whole-run summaries (for ``hx sim run``) and a sparkline renderer (for the demo)."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hx.errors import BadInput
from hx.sim.engine import Simulation
from hx.sim.faults import Fault
from hx.sim.spec import make_fleet

_BARS = "▁▂▃▄▅▆▇█"
#: Fault kinds the scenario of ``run_summary`` draws from (one a day).
SCENARIO_KINDS: tuple[str, ...] = (
    "memory_leak",
    "cpu_hog",
    "latency_regression",
    "error_spike",
    "crash_loop",
    "disk_fill",
    "dependency_failure",
    "traffic_surge",
)


def sparkline(values: Sequence[float] | np.ndarray, width: int = 60) -> str:
    """A one-line chart: ``values`` averaged into ``width`` buckets, scaled min..max; gaps are spaces.

    >>> sparkline([0, 1, 2, 3, 4, 5, 6, 7])
    '▁▂▃▄▅▆▇█'
    >>> sparkline([1.0, float("nan"), 1.0])
    '▄ ▄'
    """
    v = np.asarray(values, dtype=np.float64)
    if width < 1:
        raise BadInput("width must be >= 1", field="width")
    if v.size == 0:
        return ""
    if v.size > width:
        edges = np.linspace(0, v.size, width + 1).astype(np.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN bucket is a gap
            v = np.array([np.nanmean(v[a:b]) if b > a else np.nan for a, b in itertools.pairwise(edges)])
    ok = ~np.isnan(v)
    if not ok.any():
        return " " * v.size
    lo, hi = float(np.min(v[ok])), float(np.max(v[ok]))
    span = hi - lo
    out = []
    for x in v:
        if math.isnan(x):
            out.append(" ")
        elif span <= 0:
            out.append(_BARS[3])
        else:
            out.append(_BARS[min(len(_BARS) - 1, int((x - lo) / span * len(_BARS)))])
    return "".join(out)


def _window_sum(sim: Simulation, signal: str, services: Sequence[str] | None, t_from: float, t_to: float) -> float:
    names = list(services) if services is not None else sim.names
    return float(sum(np.nansum(sim.series(n, signal, t_from=t_from, t_to=t_to)[1]) for n in names))


def slo_violation_minutes(
    sim: Simulation, services: Sequence[str] | None = None, t_from: float = -math.inf, t_to: float = math.inf
) -> float:
    """Minutes (summed over services) whose step had p99 latency over the SLO or errors over its target
    (saturation drops count as errors), in the recorded window ``[t_from, t_to]`` (unix seconds)."""
    return _window_sum(sim, "slo_violation", services, t_from, t_to) * sim.step_s / 60.0


def replica_minutes(
    sim: Simulation, services: Sequence[str] | None = None, t_from: float = -math.inf, t_to: float = math.inf
) -> float:
    """Replica-minutes run (starting replicas included): the cost side of a scaling policy."""
    return _window_sum(sim, "replicas", services, t_from, t_to) * sim.step_s / 60.0


def scenario_faults(sim: Simulation, days: float, seed: int) -> list[tuple[float, float, Fault]]:
    """One seeded fault a day: (inject at, heal at, fault), times in seconds from the start."""
    rng = np.random.default_rng(seed + 7919)
    out = []
    for day in range(math.floor(days)):
        kind = SCENARIO_KINDS[int(rng.integers(len(SCENARIO_KINDS)))]
        service = sim.names[int(rng.integers(len(sim.names)))]
        at = day * 86400.0 + float(rng.uniform(2, 20)) * 3600.0
        out.append((at, at + float(rng.uniform(20, 90)) * 60.0, Fault(kind, service=service)))
    return out


def run_summary(
    days: float = 7.0,
    services: int = 5,
    seed: int = 1,
    trace: str = "profile",
    progress: Callable[[int, int], None] | None = None,
    *,
    faults: bool = True,
    step_s: float = 60.0,
    data_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Replay ``days`` of ``trace``-shaped traffic over a seeded fleet (with one injected fault a day when
    ``faults``) and summarise each service: requests, peak rate, mean/peak utilisation, SLO-violation
    minutes and the faults it had. ``progress(done_steps, total_steps)`` is called as it goes."""
    if not (math.isfinite(days) and days > 0):
        raise BadInput(f"days must be a positive number, got {days}", field="days")
    sim = Simulation(make_fleet(services, seed=seed, trace=trace, data_dir=data_dir, step_s=step_s), step_s=step_s)
    total = int(days * 86400 // step_s)
    plan = sorted(scenario_faults(sim, days, seed) if faults else [], key=lambda p: p[0])
    t0 = sim.t
    live: list[tuple[float, str]] = []
    every = max(1, total // 100)
    for k in range(total):
        while plan and plan[0][0] <= sim.t - t0:
            _, heal_at, fault = plan.pop(0)
            live.append((heal_at, sim.inject(fault)))
        for heal_at, fid in [x for x in live if x[0] <= sim.t - t0]:
            sim.heal(fid)
            live.remove((heal_at, fid))
        sim.step()
        if progress is not None and (k % every == 0 or k == total - 1):
            progress(k + 1, total)
    return _summarise(sim, days, seed, trace, step_s)


def _summarise(sim: Simulation, days: float, seed: int, trace: str, step_s: float) -> dict[str, Any]:
    truth = [r.to_dict() for r in sim.ground_truth()]
    per_service = []
    for name in sim.names:
        _, rate = sim.series(name, "request_rate")
        _, util = sim.series(name, "utilization")
        _, slo = sim.series(name, "slo_violation")
        _, p99 = sim.series(name, "latency_p99")
        per_service.append(
            {
                "service": name,
                "requests": round(float(np.sum(rate) * step_s)),
                "peak_rps": round(float(np.max(rate)), 2),
                "mean_utilization": round(float(np.mean(util)), 4),
                "peak_utilization": round(float(np.max(util)), 4),
                "p99_latency_s_median": round(float(np.nanmedian(p99)), 4),
                "slo_p99_s": float(sim.slo_p99[sim.svc_index[name]]),
                "slo_violation_minutes": round(float(np.sum(slo) * step_s / 60.0), 1),
                "replicas": len(sim.instances(name)),
                "faults": [f["id"] + ":" + f["kind"] for f in truth if f["service"] == name],
            }
        )
    return {
        "days": days,
        "services": len(sim.names),
        "seed": seed,
        "trace": trace,
        "step_s": step_s,
        "steps": sim.steps_done,
        "start": sim.start.isoformat(),
        "end": sim.now.isoformat(),
        "per_service": per_service,
        "faults": truth,
    }
