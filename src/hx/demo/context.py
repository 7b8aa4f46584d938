"""What every demo scene is handed: the platform, its simulated clock and runtime, and a console to print on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rich.console import Console

from hx.clock import SimClock
from hx.config import Settings
from hx.platform import Platform
from hx.runtime import Runtime


@dataclass
class DemoContext:
    settings: Settings
    platform: Platform
    clock: SimClock
    runtime: Runtime
    console: Console
    sim: Any = None
    results: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    def run_for(self, seconds: float, tick_s: float | None = None) -> None:
        """Advance simulated time, stepping every due engine."""
        tick = tick_s or float(self.settings.sim.step_s)
        self.runtime.run_simulated(self.clock, self.clock.now() + timedelta(seconds=seconds), tick_s=tick)


#: A scene: drives the engines on a started demo and returns its summary.
Scene = Callable[[DemoContext], dict[str, Any]]
