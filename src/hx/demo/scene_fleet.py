"""Demo scene: the simulated fleet with live signals, a sparkline per service."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.table import Table

from hx.demo.context import DemoContext
from hx.sim import sparkline


def scene_fleet(ctx: DemoContext) -> dict[str, Any]:
    sim = ctx.sim
    t1 = ctx.clock.now().timestamp()
    table = Table(
        "service",
        "replicas",
        "req/s (last 24 h)",
        "req/s",
        "p95 ms",
        "errors",
        "cpu",
        title=f"simulated fleet at {ctx.clock.now():%a %H:%M} UTC (traffic shaped by the NASA 1995 trace)",
    )
    out: dict[str, Any] = {}
    for name in sim.names:
        _, rate = sim.series(name, "request_rate", t_from=t1 - 86400, t_to=t1)
        last = {
            s: float(np.nan_to_num(sim.series(name, s, t_from=t1 - 300, t_to=t1)[1][-1:]).mean())
            for s in ("request_rate", "latency_p95", "error_rate", "cpu_utilization", "replicas")
        }
        table.add_row(
            name,
            f"{last['replicas']:.0f}",
            sparkline(rate, width=36),
            f"{last['request_rate']:.0f}",
            f"{1000 * last['latency_p95']:.0f}",
            f"{100 * last['error_rate']:.2f}%",
            f"{100 * last['cpu_utilization']:.0f}%",
        )
        out[name] = last
    ctx.console.print(table)
    deps = {s.name: [d for d, _ in s.dependencies] for s in sim.spec.services}
    ctx.console.print("call graph: " + "; ".join(f"{k} -> {', '.join(v)}" for k, v in deps.items() if v))
    return out
