"""Demo scene: a daily traffic surge, foreseen from the days before, met by replicas added before it arrives.

A one-service shop whose traffic triples every day at the same time (a 20-minute ramp) has two days of
history.  The predictive scaler (the same engine ``hx serve`` runs) forecasts the next hour from that
history and scales out early enough for the 2-minute start-up; the scene prints the forecast band, the
replicas it set and when they were ready, and whether the SLO held.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from rich.table import Table

from hx.clock import SimClock
from hx.demo.context import DemoContext
from hx.events import ScalingActed
from hx.scale.engine import PredictiveScaler
from hx.scale.scaler import ScalerConfig, ServiceProfile
from hx.sim import SimActuator, SimSource, Simulation, sparkline
from hx.sim.spec import SLO, FleetSpec, ServiceSpec
from hx.sim.traces import TrafficShape

SERVICE = "shop"
CAPACITY, STARTUP, BASE_RPS = 50.0, 120.0, 100.0
LEAD_S, RAMP_S, SURGE_S = 50 * 60.0, 20 * 60.0, 2 * 3600.0


def surge_shape(ramp_at_s: float) -> TrafficShape:
    """1x, then every day at ``ramp_at_s`` (seconds after midnight UTC) a ramp to 3x held for two hours."""
    t = np.arange(0.0, 86400.0, 60.0)
    since = np.mod(t - ramp_at_s, 86400.0)
    level = np.where(since < RAMP_S, since / RAMP_S, np.where(since < SURGE_S, 1.0, 0.0))
    down = (since >= SURGE_S) & (since < SURGE_S + RAMP_S)
    level = np.where(down, 1.0 - (since - SURGE_S) / RAMP_S, level)
    return TrafficShape(1.0 + 2.0 * level, 60.0, origin=-30.0, name="daily surge")


def shop_world(now: datetime, history_days: float = 2.0) -> tuple[Simulation, datetime]:
    """The shop with ``history_days`` of history up to ``now``; returns it and today's surge time."""
    ramp_at = now + timedelta(seconds=LEAD_S)
    tod = ramp_at.timestamp() % 86400.0
    spec = FleetSpec(
        (ServiceSpec(SERVICE, capacity_rps=CAPACITY, replicas=3, base_rate_rps=BASE_RPS, startup_s=STARTUP,
                     slo=SLO(latency_p99_s=0.6, error_rate=0.01)),),
        shape=surge_shape(tod), nodes=2, seed=7,
    )  # fmt: skip
    sim = Simulation(spec, clock=SimClock(now - timedelta(days=history_days)), step_s=60.0)
    sim.run_until(now)
    return sim, ramp_at


def scene_scale(ctx: DemoContext) -> dict[str, Any]:
    now = ctx.clock.now()
    sim, ramp_at = shop_world(now)
    ctx.console.print(f"[bold]{SERVICE}[/bold]: traffic triples every day at {ramp_at:%H:%M} UTC (20-minute ramp); "
                      f"2 days of history; replicas take {STARTUP:.0f} s to start")  # fmt: skip
    cfg = ScalerConfig.from_settings(ctx.settings.intelligent_monitoring.scaling, forecaster="seasonal_naive")
    profile = ServiceProfile(CAPACITY, STARTUP, "demo")
    eng = PredictiveScaler(ctx.platform, SimSource(sim), SimActuator(sim), lambda _s: profile, config=cfg, mode="act",
                           name="predictive-scaler-demo")  # fmt: skip
    after = ctx.platform.bus.last_id()
    rows = []
    end = ramp_at + timedelta(seconds=RAMP_S + 30 * 60)
    while ctx.clock.now() < end:
        ctx.run_for(60)
        t = ctx.clock.now()
        sim.run_until(t)
        rec = eng.step_service(SERVICE, t) or {}
        if t.minute % 10 == 0:
            rows.append((t, rec))
    return _report(ctx, sim, eng, ramp_at, rows, after)


def _band(rec: dict[str, Any]) -> str:
    f = rec.get("forecast") or {}
    if not f:
        return "-"
    return f"{f['mean_min']:.0f}..{f['mean_max']:.0f} / {f['quantile_max']:.0f}"


def _report(ctx: DemoContext, sim: Simulation, eng: PredictiveScaler, ramp_at: datetime,
            rows: list[tuple[datetime, dict[str, Any]]], after: int) -> dict[str, Any]:  # fmt: skip
    table = Table("time", "req/s", "next hour: mean / p90 peak", "replicas", "why",
                  title=f"{SERVICE}: forecast and replicas (surge at {ramp_at:%H:%M})")  # fmt: skip
    for t, rec in rows:
        why = str(rec.get("reason", "")).split(":")[-1].strip()[:30]
        reps = f"{rec.get('current_replicas')} -> {rec.get('replicas')}"
        table.add_row(f"{t:%H:%M}", f"{rec.get('demand') or 0:.0f}", _band(rec), reps, why)
    ctx.console.print(table)
    t0 = (ramp_at - timedelta(minutes=50)).timestamp()
    _, rate = sim.series(SERVICE, "request_rate", t_from=t0)
    _, ready = sim.series(SERVICE, "ready_replicas", t_from=t0)
    _, slo = sim.series(SERVICE, "slo_violation", t_from=t0)
    ctx.console.print(f"demand          {sparkline(rate, 60)}  {np.min(rate):.0f}..{np.max(rate):.0f} req/s")
    ctx.console.print(f"ready replicas  {sparkline(ready, 60)}  {np.min(ready):.0f}..{np.max(ready):.0f}")
    acted = [(e.ts, e.payload) for e in ctx.platform.bus.read(after=after, types=[ScalingActed], limit=1000)
             if isinstance(e.payload, ScalingActed) and e.subject == SERVICE]  # fmt: skip
    first_up = next((ts for ts, p in acted if p.after > p.before), None)
    lead = None if first_up is None else (ramp_at - first_up.astimezone(UTC)).total_seconds() / 60.0
    viol = float(np.sum(slo))
    ctx.console.print(
        f"first scale-out {lead:.0f} min before the surge; SLO-violation minutes: {viol:.0f}" if lead is not None
        else "[red]no scale-out happened[/red]"
    )  # fmt: skip
    return {
        "surge_at": ramp_at.isoformat(),
        "first_scale_out_at": None if first_up is None else first_up.isoformat(),
        "lead_minutes": None if lead is None else round(lead, 1),
        "actions": len(acted),
        "peak_ready_replicas": int(np.max(ready)) if ready.size else 0,
        "slo_violation_minutes": viol,
        "audit_records": sum(1 for r in ctx.platform.audit.records(limit=1000) if r.actor == eng.name),
        "ok": bool(lead is not None and lead > 0 and viol == 0 and not math.isnan(viol)),
    }
