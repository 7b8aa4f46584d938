"""Assembles the world hx watches (signal source, actuator) and each component's engines from settings."""

from __future__ import annotations

import importlib
import logging
import os
import pickle
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hx.clock import Clock, SimClock, WallClock
from hx.components import Component
from hx.config import Settings, check_world
from hx.errors import ConfigError
from hx.fleet import ServiceFacts
from hx.platform import Platform
from hx.runtime import Engine, Runtime
from hx.topology import StaticTopology

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from hx.actuate.base import Actuator
    from hx.sim import Simulation
    from hx.telemetry.base import SignalSource


class SimCheckpoint:
    """Keeps the embedded fleet across restarts of ``hx serve``: a pickle in the data directory, written
    atomically after every actuator call and once a minute, so that what hx did to the world survives a
    crash exactly as a real fleet would."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.saved_at = 0.0

    def save(self, sim: Simulation) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump({"fingerprint": self.fingerprint, "sim": sim}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self.saved_at = sim.t

    def load(self) -> Simulation | None:
        if not self.path.exists():
            return None
        with self.path.open("rb") as fh:
            data = pickle.load(fh)  # written by this class into hx's own data directory
        if not isinstance(data, dict) or data.get("fingerprint") != self.fingerprint:
            log.warning("sim checkpoint %s is for another fleet configuration; starting a fresh fleet", self.path)
            return None
        sim = data["sim"]
        return sim  # type: ignore[no-any-return]


class CheckpointedActuator:
    """The sim actuator, checkpointing the fleet after every call that may have changed it."""

    def __init__(self, inner: Actuator, sim: Simulation, checkpoint: SimCheckpoint) -> None:
        self.inner = inner
        self.sim = sim
        self.checkpoint = checkpoint
        self.name = getattr(inner, "name", "sim")

    def __getattr__(self, verb: str) -> Any:
        fn = getattr(self.inner, verb)
        if verb not in ("scale", "set_traffic_split", "deploy", "restart", "run"):
            return fn

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self.checkpoint.save(self.sim)

        return call


class SimEngine:
    """Advances the simulated fleet to the runtime's ``now`` (wall clock in ``hx serve``, simulated in the demo)."""

    name = "sim"
    per_process = True  # each process advances its own embedded world; no lease

    def __init__(
        self, sim: Simulation, interval_s: float | None = None, checkpoint: SimCheckpoint | None = None
    ) -> None:
        self.sim = sim
        self.interval_s = interval_s if interval_s is not None else sim.step_s
        self.checkpoint = checkpoint

    def step(self, now: datetime) -> None:
        self.sim.run_until(now)
        if self.checkpoint is not None and self.sim.t - self.checkpoint.saved_at >= 60:
            self.checkpoint.save(self.sim)

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "t": self.sim.now.isoformat(), "services": len(self.sim.names)}


class SimFleetFacts:
    """Capacity and start-up time of each simulated service, read from the fleet as it is now."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def facts(self, service: str) -> ServiceFacts | None:
        i = self.sim.svc_index.get(service)
        if i is None:
            return None
        return ServiceFacts(float(self.sim.cap[i]), float(self.sim.startup[i]), origin="sim")


def sim_topology(sim: Simulation) -> StaticTopology:
    """The simulated fleet's call graph (its spec is fixed for the life of the sim)."""
    return StaticTopology({s.name: [d for d, _ in s.dependencies] for s in sim.spec.services})


def embed_sim(platform: Platform, sim: Simulation | None) -> None:
    """Give the platform what engines may know of the embedded fleet (its call graph and capacities, through typed
    providers) and the engine that advances it; the engines never see the sim itself.  ``None``: nothing embedded."""
    if sim is None:
        return
    s = platform.settings.sim
    wall = not isinstance(platform.clock, SimClock)
    checkpoint = sim_checkpoint(platform.settings) if s.checkpoint and wall else None
    platform.embedded = SimEngine(sim, checkpoint=checkpoint)
    platform.topology = sim_topology(sim)
    platform.fleet = SimFleetFacts(sim)


def sim_checkpoint(settings: Settings) -> SimCheckpoint:
    s = settings.sim
    fp = f"{s.services}:{s.seed}:{s.trace}:{s.step_s}:{s.startup_s}"
    return SimCheckpoint(settings.data_dir / "sim.ckpt", fp)


def build_sim(settings: Settings, clock: Clock | None = None) -> Simulation:
    """The embedded fleet.

    On simulated time (demo, tests, benchmarks) it starts at the clock.  On the wall clock it resumes
    from its checkpoint when there is one, else starts ``sim.warmup_s`` in the past; either way it then
    catches up to now, so history exists.
    """
    from hx.sim import Simulation, make_fleet

    s = settings.sim
    spec = make_fleet(s.services, seed=s.seed, trace=s.trace, step_s=s.step_s)
    if s.startup_s is not None:
        spec = replace(spec, services=tuple(replace(svc, startup_s=s.startup_s) for svc in spec.services))
    if isinstance(clock, SimClock):
        return Simulation(spec, clock=clock, step_s=s.step_s, history_mb=s.history_mb)
    now = (clock or WallClock()).now()
    sim = sim_checkpoint(settings).load() if s.checkpoint else None
    if sim is None or sim.t < (now - timedelta(seconds=max(s.warmup_s, 3600))).timestamp():
        sim = Simulation(spec, step_s=s.step_s, start=now - timedelta(seconds=s.warmup_s), history_mb=s.history_mb)
    sim.run_until(now)
    return sim


def build_world(
    settings: Settings, clock: Clock | None = None
) -> tuple[SignalSource | None, Actuator | None, Simulation | None]:
    """(signal source, actuator, the sim if one is embedded) from ``telemetry`` and ``actuator`` settings; real
    telemetry with the simulated actuator is refused (:func:`~hx.config.check_world`)."""
    check_world(settings)
    sim: Simulation | None = None
    source: SignalSource | None = None
    actuator: Actuator | None = None
    if settings.telemetry.source == "sim" or settings.actuator.kind == "sim":
        sim = build_sim(settings, clock)
    if settings.telemetry.source == "sim" and sim is not None:
        from hx.sim import SimSource

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
    if (
        sim is not None
        and settings.actuator.kind == "sim"
        and settings.sim.checkpoint
        and not isinstance(clock, SimClock)
    ):
        actuator = CheckpointedActuator(actuator, sim, sim_checkpoint(settings))
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

        return ShellActuator(a.shell)
    if a.kind == "ansible":
        from hx.actuate.ansible import AnsibleActuator

        if not a.ansible_inventory:
            raise ConfigError("ansible needs an inventory", key="actuator.ansible_inventory", expected="a path")
        return AnsibleActuator(inventory=a.ansible_inventory, playbooks=a.ansible_playbooks)
    if a.kind == "fleet" and a.fleet is not None:
        from hx.actuate.fleet import FleetActuator

        return FleetActuator.from_settings(a.fleet)
    from hx.actuate.http import HttpActuator, Webhook

    return HttpActuator({verb: Webhook(url) for verb, url in a.http.items()})


def _factory(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_runtime(platform: Platform, components: Sequence[Component]) -> Runtime:
    """The runtime with the sim (when embedded) and every engine the components name."""
    from hx.housekeeping import AuditWatch

    engines: list[Engine] = []
    if platform.embedded is not None:
        engines.append(platform.embedded)
    engines.append(AuditWatch(platform))
    seen: set[str] = set()
    for comp in components:
        for path in comp.engines:
            if path in seen:
                continue
            seen.add(path)
            engines.extend(_factory(path)(platform))
    return Runtime(platform, engines)
