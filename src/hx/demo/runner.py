"""The demo runner: a fresh platform in a data directory, a simulated clock, then each scene."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

from hx.clock import SimClock
from hx.config import Settings, load_settings
from hx.platform import Platform, bootstrap_admin, build_platform
from hx.runtime import Runtime

DEMO_START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday


@dataclass
class DemoContext:
    settings: Settings
    platform: Platform
    clock: SimClock
    runtime: Runtime
    console: Console
    results: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


Scene = Callable[[DemoContext], dict[str, Any]]


def _scenes() -> list[tuple[str, Scene]]:
    from hx.demo.scenes import SCENES

    return SCENES


def run_demo(
    data_dir: Path | None = None,
    console: Console | None = None,
    only: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every scene (or ``only`` those named); return each scene's summary."""
    console = console or Console()
    home = data_dir or Path(tempfile.mkdtemp(prefix="hx-demo-"))
    env = {"HX_HOME": str(home)}
    settings = load_settings(environ=env, overrides=overrides or {}).settings
    clock = SimClock(DEMO_START)
    platform = build_platform(settings, clock=clock)
    token_file = bootstrap_admin(platform)
    runtime = Runtime(platform, [])
    ctx = DemoContext(settings, platform, clock, runtime, console)
    console.print(
        Panel.fit(
            f"hx demo -- data in {home} (SQLite), simulated fleet, simulated time from {DEMO_START:%Y-%m-%d %H:%M} UTC"
            + (f"\nadmin token written to {token_file} (0600)" if token_file else ""),
            title="hx",
        )
    )
    for name, scene in _scenes():
        if only and name not in only:
            continue
        console.rule(f"[bold]{name}")
        ctx.results[name] = scene(ctx)
    return ctx.results
