"""Assembles the world hx watches (signal source, actuator) and each component's engines from settings."""

from __future__ import annotations

import fcntl
import importlib
import json
import logging
import os
import pickle
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hx.clock import Clock, SimClock, WallClock
from hx.components import Component
from hx.config import Settings, check_world
from hx.engine import Engine
from hx.errors import ConfigError, IntegrityError
from hx.fleet import ServiceFacts
from hx.platform import Platform, state_sealer
from hx.runtime import Runtime
from hx.security.private import private_file, write_private
from hx.security.sealing import Sealer
from hx.topology import StaticTopology

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from hx.actuate.base import Actuator
    from hx.sim import Simulation
    from hx.telemetry.base import SignalSource


class SimCheckpoint:
    """Keeps the embedded fleet across restarts of ``hx serve``: a sealed pickle (HMAC under hx's key, checked
    before anything is unpickled) in the data directory, written after every actuator call and once a minute.

    A save pickles the fleet and replaces the file atomically (a unique 0600 temporary file in the same
    directory, fsync, ``os.replace``) under a lock shared by every writer on the host, so concurrent saves
    (engine thread, API workers, drills) never collide.  A checkpoint that cannot be loaded (damaged, written
    without the key, an old unsealed one) does not stop hx from starting: it is set aside next to a note of
    why (``sim.ckpt.damaged-<time>`` and ``.json``), logged, shown in ``/health``, and the fleet starts fresh.
    """

    def __init__(self, path: Path, fingerprint: str, sealer: Sealer) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.sealer = sealer
        self.saved_at = 0.0

    def save(self, sim: Simulation) -> None:
        with self._locked():
            blob = self.sealer.dumps({"fingerprint": self.fingerprint, "sim": sim}, CHECKPOINT_CONTEXT)
            write_private(self.path, blob)
        self.saved_at = sim.t

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock = private_file(self.path.with_name(self.path.name + ".lock"))
        with SIM_LOCK, lock.open("rb") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def load(self) -> Simulation | None:
        """The saved fleet; None when there is none, it is for another configuration, or it was set aside."""
        if not self.path.exists():
            return None
        try:
            with self._locked():
                data = self.sealer.loads(self.path.read_bytes(), CHECKPOINT_CONTEXT)
        except (IntegrityError, OSError, *UNPICKLING_ERRORS) as err:
            self.set_aside(f"{type(err).__name__}: {err}")
            return None
        if not isinstance(data, dict) or data.get("fingerprint") != self.fingerprint:
            log.warning("sim checkpoint %s is for another fleet configuration; starting a fresh fleet", self.path)
            return None
        sim = data["sim"]
        return sim  # type: ignore[no-any-return]

    def set_aside(self, reason: str) -> Path:
        """Move the checkpoint out of the way (kept for inspection) with a note of why; return its new path."""
        stamp = datetime.now().astimezone().strftime("%Y%m%dT%H%M%S%f")
        kept = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        os.replace(self.path, kept)
        note = {"file": str(kept), "reason": reason, "set_aside_at": datetime.now().astimezone().isoformat()}
        write_private(kept.with_name(kept.name + ".json"), json.dumps(note).encode())
        log.error("sim checkpoint %s could not be loaded (%s); set aside as %s, starting a fresh fleet",
                  self.path, reason, kept)  # fmt: skip
        return kept

    def health(self) -> dict[str, Any]:
        """What ``/health`` shows: the checkpoint file and any set aside (newest first) with why."""
        notes = sorted(self.path.parent.glob(f"{self.path.name}.damaged-*.json"), reverse=True)
        set_aside = [_read_note(n) for n in notes[:5]]
        out: dict[str, Any] = {"status": "ok", "path": str(self.path), "set_aside": set_aside}
        if set_aside:
            out["detail"] = f"{len(notes)} damaged checkpoint(s) set aside; the fleet started fresh"
        return out


#: what a checkpoint's bytes are sealed to
CHECKPOINT_CONTEXT = "sim-checkpoint"
#: what unpickling authenticated but unloadable bytes raises (a class renamed between versions, say)
UNPICKLING_ERRORS = (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError)
#: the embedded fleet's lock: advancing it (the runtime's sim engine), changing it (actuator calls from API workers
#: and drill jobs) and pickling it for a checkpoint never overlap, so a save never sees a fleet half-changed (the file
#: lock serialises processes)
SIM_LOCK = threading.RLock()


def _read_note(path: Path) -> dict[str, Any]:
    try:
        note = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return {"file": str(path), "reason": f"note unreadable: {err}"}
    return note if isinstance(note, dict) else {"file": str(path), "reason": "note unreadable"}


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
            with SIM_LOCK:
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
        with SIM_LOCK:
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
    if checkpoint is not None:
        platform.health_checks["sim_checkpoint"] = checkpoint.health
    platform.topology = sim_topology(sim)
    platform.fleet = SimFleetFacts(sim)


def sim_checkpoint(settings: Settings) -> SimCheckpoint:
    s = settings.sim
    fp = f"{s.services}:{s.seed}:{s.trace}:{s.step_s}:{s.startup_s}"
    return SimCheckpoint(settings.data_dir / "sim.ckpt", fp, state_sealer(settings))


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
