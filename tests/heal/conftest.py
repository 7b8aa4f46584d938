"""A platform on simulated time with the embedded sim and the self-healing engine (no other component)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hx.clock import SimClock
from hx.config import load_settings
from hx.heal.component import engines, heal_engine
from hx.heal.engine import HealEngine
from hx.heal.records import Incident
from hx.lab.alert_rules import RuleAlerter
from hx.platform import Platform, build_platform
from hx.runtime import Runtime
from hx.sim import Simulation
from hx.wiring import SimEngine, build_world, embed_sim

START = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


@dataclass
class HealWorld:
    platform: Platform
    clock: SimClock
    sim: Simulation
    runtime: Runtime
    engine: HealEngine
    alerter: RuleAlerter

    def run(self, seconds: float, alerts: bool = True) -> None:
        """Advance time; every minute the threshold rules feed the intake (as Alertmanager would)."""
        end = self.clock.now() + timedelta(seconds=seconds)
        while self.clock.now() < end:
            self.runtime.run_simulated(self.clock, self.clock.now() + timedelta(seconds=60), tick_s=15)
            if alerts:
                rows = self.alerter.evaluate(self.sim.names, self.clock.now())
                self.engine.intake.accept(rows)

    def incidents(self) -> list[Incident]:
        return self.engine.incidents.list(limit=100)

    def finish(self) -> HealWorld:
        """Build the engine (after secrets were set)."""
        self.engine = heal_engine(self.platform)
        self.runtime.add(self.engine)
        return self


def make_heal_world(
    home: Path, overrides: dict[str, Any] | None = None, predictive: bool = False, build: bool = True
) -> HealWorld:
    settings = load_settings(
        environ={"HX_HOME": str(home)}, overrides={"sim.services": 3, "sim.step_s": 15.0, **(overrides or {})}
    ).settings
    clock = SimClock(START - timedelta(hours=2))
    source, actuator, sim = build_world(settings, clock)
    assert sim is not None and source is not None
    sim.run_until(START)
    platform = build_platform(settings, clock=clock, source=source, actuator=actuator)
    embed_sim(platform, sim)
    alerter = RuleAlerter(source, step_s=15.0, environment=settings.environment)
    if not build:
        return HealWorld(platform, clock, sim, Runtime(platform, [SimEngine(sim)]), None, alerter)  # type: ignore[arg-type]
    engs = engines(platform) if predictive else [heal_engine(platform)]
    runtime = Runtime(platform, [SimEngine(sim), *engs])
    return HealWorld(platform, clock, sim, runtime, heal_engine(platform), alerter)


@pytest.fixture
def hworld(tmp_path: Path) -> Iterator[HealWorld]:
    w = make_heal_world(tmp_path / "hx")
    yield w
    w.platform.store.dispose()
