"""The demo runner: a fresh platform in a data directory, a simulated clock, then each scene."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

from hx.clock import SimClock
from hx.components import COMPONENTS
from hx.config import load_settings
from hx.demo.context import DemoContext
from hx.demo.scenes import SCENES
from hx.errors import UnknownName
from hx.platform import bootstrap_admin, build_platform
from hx.wiring import build_runtime, build_world, embed_sim

DEMO_START = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # a Tuesday morning (the day before is alike)
WARMUP_HOURS = 8 * 24  # eight days of history: detectors learn daily and weekly cycles before they may alert
#: The demo's fleet: five services, one-minute steps; canary analyses of ten minutes (ten points each).
DEMO_OVERRIDES: dict[str, Any] = {
    "sim.services": 5,
    "sim.step_s": 60.0,
    "sim.seed": 1,
    "ai_orchestrator.canary.analysis_interval_s": 600.0,
    # the main fleet's scaler only recommends (as in prod); the scaling scene shows it acting on its own fleet
    "intelligent_monitoring.scaling.mode": "recommend",
}


def run_demo(
    data_dir: Path | None = None,
    console: Console | None = None,
    only: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every scene (or ``only`` those named); return each scene's summary."""
    return run_scenes(start_demo(data_dir, console, only, overrides), only)


def start_demo(
    data_dir: Path | None = None,
    console: Console | None = None,
    only: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> DemoContext:
    """The demo's platform, world and runtime, before any scene (refusing an unknown scene name first)."""
    names = [name for name, _scene in SCENES]
    for name in only or []:
        if name not in names:
            raise UnknownName("scene", name, names)
    console = console or Console()
    home = data_dir or Path(tempfile.mkdtemp(prefix="hx-demo-"))
    env = {"HX_HOME": str(home)}
    settings = load_settings(environ=env, overrides={**DEMO_OVERRIDES, **(overrides or {})}).settings
    clock = SimClock(DEMO_START - timedelta(hours=WARMUP_HOURS))
    source, actuator, sim = build_world(settings, clock)
    assert sim is not None  # the demo always embeds the sim (telemetry.source and actuator.kind are 'sim')
    sim.run_until(DEMO_START)  # history for baselines and risk, before any engine runs
    platform = build_platform(settings, clock=clock, source=source, actuator=actuator)
    embed_sim(platform, sim)
    token_file = bootstrap_admin(platform)
    runtime = build_runtime(platform, COMPONENTS)
    ctx = DemoContext(settings, platform, clock, runtime, console, sim=sim)
    console.print(
        Panel.fit(
            f"hx demo -- data in {home} (SQLite), simulated fleet, simulated time from {DEMO_START:%Y-%m-%d %H:%M} UTC"
            + (f"\nadmin token written to {token_file} (0600)" if token_file else ""),
            title="hx",
        )
    )
    return ctx


def run_scenes(ctx: DemoContext, only: list[str] | None = None) -> dict[str, Any]:
    """Run every scene (or ``only`` those named) on a started demo; return each scene's summary."""
    for name, scene in SCENES:
        if only and name not in only:
            continue
        ctx.console.rule(f"[bold]{name}")
        ctx.results[name] = scene(ctx)
    return ctx.results
