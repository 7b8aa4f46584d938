from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hx.clock import SimClock
from hx.components import COMPONENTS
from hx.config import load_settings
from hx.deploy.component import service
from hx.deploy.records import TERMINAL, Deployment
from hx.deploy.service import DeploymentService
from hx.platform import Platform, build_platform
from hx.runtime import Runtime
from hx.security.roles import Role
from hx.security.tokens import Principal
from hx.sim import Simulation
from hx.wiring import build_runtime, build_world, embed_sim

START = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


@dataclass
class World:
    platform: Platform
    clock: SimClock
    sim: Simulation
    runtime: Runtime
    svc: DeploymentService

    def principal(self, role: Role, name: str) -> Principal:
        token, _ = self.platform.tokens.create(name, role)
        return self.platform.tokens.authenticate(token)

    def run(self, seconds: float) -> None:
        self.runtime.run_simulated(self.clock, self.clock.now() + timedelta(seconds=seconds), tick_s=15)

    def until(
        self,
        dep_id: int,
        states: tuple[str, ...] = (*TERMINAL, "needs_person", "awaiting_approval"),
        limit_s: float = 6 * 3600,
    ) -> Deployment:
        waited = 0.0
        d = self.svc.repo.get(dep_id)
        while d.state not in states and waited < limit_s:
            self.run(60)
            waited += 60
            d = self.svc.repo.get(dep_id)
        return d


def make_world(home: Path, **overrides: object) -> World:
    env = {"HX_HOME": str(home)}
    settings = load_settings(
        environ=env,
        overrides={
            "sim.services": 3,
            "sim.step_s": 15.0,
            "ai_orchestrator.canary.analysis_interval_s": 300,
            **overrides,
        },
    ).settings
    clock = SimClock(START - timedelta(hours=2))
    source, actuator, sim = build_world(settings, clock)
    assert sim is not None
    sim.run_until(START)
    platform = build_platform(settings, clock=clock, source=source, actuator=actuator)
    embed_sim(platform, sim)
    runtime = build_runtime(platform, COMPONENTS)
    return World(platform, clock, sim, runtime, service(platform))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "hx")
    yield w
    w.platform.store.dispose()
