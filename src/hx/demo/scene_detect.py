"""Demo scene: an injected fault detected with its score and explanation; the alerts still open at its end are named."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from hx.demo.context import DemoContext
from hx.events import AnomalyDetected, AnomalyResolved, EventType
from hx.sim import Fault, sparkline


def scene_detect(ctx: DemoContext) -> dict[str, Any]:
    sim = ctx.sim
    target = sim.names[-1]
    after = ctx.platform.bus.last_id()
    fid = sim.inject(Fault("error_spike", service=target, magnitude=0.15, duration_s=20 * 60))
    ctx.console.print(f"injected an error spike into [bold]{target}[/bold] for 20 minutes (fault {fid})")
    ctx.run_for(50 * 60)
    events = ctx.platform.bus.read(after=after, types=[EventType.ANOMALY_DETECTED.family], limit=1000)
    table = Table("time", "event", "service/signal", "score", "observed", "expected", "detectors", title="anomalies")
    for e in events:
        d = e.data
        lo, hi = d.get("expected_low"), d.get("expected_high")
        expected = f"{lo:.4g} .. {hi:.4g}" if lo is not None and hi is not None else "-"
        score = d.get("score", d.get("peak_score"))
        table.add_row(
            e.ts.strftime("%H:%M"),
            e.type,
            f"{d.get('service')}/{d.get('signal')}",
            f"{score:.2f}" if isinstance(score, float) else "-",
            f"{d.get('observed', '-')!s:.6}",
            expected,
            ", ".join(d.get("detectors", [])),
        )
    ctx.console.print(table)
    truth = [g.to_dict() for g in sim.ground_truth() if g.id == fid]
    _times, values = sim.series(target, "error_rate", t_from=ctx.clock.now().timestamp() - 3600)
    ctx.console.print(f"{target} error_rate, last hour: {sparkline(values, width=60)}")
    detected = [e for e in events if isinstance(e.payload, AnomalyDetected) and e.subject == target]
    resolved = [e for e in events if isinstance(e.payload, AnomalyResolved) and e.subject == target]
    closed = {e.payload.anomaly_id for e in events if isinstance(e.payload, AnomalyResolved)}
    still_open = [
        f"{e.payload.service}/{e.payload.signal}"
        for e in events
        if isinstance(e.payload, AnomalyDetected) and e.payload.anomaly_id not in closed
    ]
    if still_open:
        ctx.console.print(f"still open at the scene's end: {', '.join(still_open)}")
    return {
        "detected": len(detected),
        "resolved": len(resolved),
        "still_open": still_open,
        "false_alarms": sum(1 for e in events if isinstance(e.payload, AnomalyDetected) and e.subject != target),
        "ground_truth": truth,
    }
