"""The demo's scenes, in order."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.table import Table

from hx.api.health import health_report
from hx.demo.context import DemoContext, Scene
from hx.demo.scene_cloud import scene_cloud
from hx.demo.scene_deploy import scene_deploy
from hx.demo.scene_detect import scene_detect
from hx.demo.scene_fleet import scene_fleet
from hx.demo.scene_heal import scene_heal
from hx.demo.scene_improve import scene_improve
from hx.demo.scene_scale import scene_scale
from hx.housekeeping import AuditWatch


def scene_platform(ctx: DemoContext) -> dict[str, Any]:
    """The runtime stepping engines in simulated time, events flowing, health green."""
    if not any(e.name == "audit-watch" for e in ctx.runtime.engines):
        ctx.runtime.add(AuditWatch(ctx.platform, interval_s=600))
    ctx.run_for(3600)
    events = ctx.platform.bus.read(limit=1000)
    counts = Counter(e.type for e in events)
    table = Table("engine", "steps", "errors", "status", title="runtime (1 simulated hour)")
    for name, st in ctx.runtime.health().items():
        table.add_row(name, str(st["steps"]), str(st["errors"]), st["status"])
    ctx.console.print(table)
    told = ", ".join(f"{n} {t}" for t, n in counts.most_common()) or "none yet"  # not a Python dict
    ctx.console.print(f"events so far: {told}", markup=False)
    _code, body = health_report(ctx.platform, "all", ctx.runtime.health())
    colour = "green" if body["status"] == "ok" else "red"
    ctx.console.print(f"/health: [{colour}]{body['status']}[/{colour}] (store {body['checks']['store']['backend']})")
    return {"health": body["status"], "engines": ctx.runtime.health(), "events": dict(counts)}


SCENES: list[tuple[str, Scene]] = [
    ("platform", scene_platform),
    ("fleet", scene_fleet),
    ("anomaly", scene_detect),
    ("deployment", scene_deploy),
    ("healing", scene_heal),
    ("scaling", scene_scale),
    ("multi-cloud", scene_cloud),
    ("improvement", scene_improve),
]
