"""Assembles the world hx watches (signal source, actuator) and each component's engines from settings."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hx.clock import Clock, SimClock, WallClock
from hx.components import Component
from hx.config import Settings
from hx.errors import ConfigError
from hx.platform import Platform
from hx.runtime import Engine, Runtime

if TYPE_CHECKING:
    from hx.actuate.base import Actuator
    from hx.sim import Simulation
    from hx.telemetry.base import SignalSource


class SimEngine:
    """Advances the simulated fleet to the runtime's ``now`` (wall clock in ``hx serve``, simulated in the demo)."""

    name = "sim"

    def __init__(self, sim: Simulation, interval_s: float | None = None) -> None:
        self.sim = sim
        self.interval_s = interval_s if interval_s is not None else sim.step_s

    def step(self, now: datetime) -> None:
        self.sim.run_until(now)

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "t": self.sim.now.isoformat(), "services": len(self.sim.names)}


def build_sim(settings: Settings, clock: Clock | None = None, warmup_s: float = 86400.0) -> Simulation:
    """The embedded fleet; on the wall clock it starts ``warmup_s`` in the past and catches up, so history exists."""
    from hx.sim import Simulation, make_fleet

    s = settings.sim
    spec = make_fleet(s.services, seed=s.seed, trace=s.trace, step_s=s.step_s)
    if isinstance(clock, SimClock):
        return Simulation(spec, clock=clock, step_s=s.step_s)
    now = (clock or WallClock()).now()
    sim = Simulation(spec, step_s=s.step_s, start=now - timedelta(seconds=warmup_s))
    sim.run_until(now)
    return sim


def build_world(
    settings: Settings, clock: Clock | None = None
) -> tuple[SignalSource | None, Actuator | None, Simulation | None]:
    """(signal source, actuator, the sim if one is embedded) from ``telemetry`` and ``actuator`` settings."""
    sim: Simulation | None = None
    source: SignalSource | None = None
    actuator: Actuator | None = None
    if settings.telemetry.source == "sim" or settings.actuator.kind == "sim":
        sim = build_sim(settings, clock)
    if settings.telemetry.source == "sim":
        from hx.sim import SimSource

        assert sim is not None
        source = SimSource(sim)
    elif settings.telemetry.source == "prometheus":
        from hx.telemetry.prometheus import PrometheusSource

        source = PrometheusSource.from_settings(settings.telemetry.prometheus)
    elif settings.telemetry.source == "replay":
        from hx.telemetry.replay import ReplaySource

        if not settings.telemetry.replay_path:
            raise ConfigError("replay needs a path", key="telemetry.replay_path", expected="a CSV file")
        source = ReplaySource.from_path(settings.telemetry.replay_path)
    actuator = build_actuator(settings, sim)
    return source, actuator, sim


def build_actuator(settings: Settings, sim: Simulation | None) -> Actuator:
    a = settings.actuator
    if a.kind == "sim":
        from hx.sim import SimActuator

        if sim is None:
            raise ConfigError("the sim actuator needs the embedded sim", key="actuator.kind")
        return SimActuator(sim)
    if a.kind == "shell":
        from hx.actuate.shell import ShellActuator

        return ShellActuator(a.shell, timeout=a.timeout_s)
    if a.kind == "ansible":
        from hx.actuate.ansible import AnsibleActuator

        if not a.ansible_inventory:
            raise ConfigError("ansible needs an inventory", key="actuator.ansible_inventory", expected="a path")
        return AnsibleActuator(a.ansible_inventory, a.ansible_playbooks, timeout=a.timeout_s)
    from hx.actuate.http import HttpActuator

    return HttpActuator(a.http, timeout=a.timeout_s)


def _factory(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_runtime(platform: Platform, components: Sequence[Component]) -> Runtime:
    """The runtime with the sim (when embedded) and every engine the components name."""
    from hx.housekeeping import AuditWatch

    engines: list[Engine] = []
    sim = platform.extras.get("sim")
    if sim is not None:
        engines.append(SimEngine(sim))
    engines.append(AuditWatch(platform))
    seen: set[str] = set()
    for comp in components:
        for path in comp.engines:
            if path in seen:
                continue
            seen.add(path)
            engines.extend(_factory(path)(platform))
    return Runtime(platform, engines)
