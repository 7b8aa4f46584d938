"""Shared fixtures: a small, noise-free fleet whose numbers can be worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hx.sim.engine import Simulation
from hx.sim.spec import SLO, FleetSpec, ServiceSpec
from hx.sim.traces import TrafficShape, resolve_data_dir

FLAT = TrafficShape(np.ones(4), 3600.0)


def flat_fleet(
    rate: float = 100.0, web_replicas: int = 4, web_cap: float = 50.0, startup: float = 60.0, nodes: int = 3
) -> FleetSpec:
    """edge -> web -> db, constant traffic, no noise: web at rate/(replicas*cap) utilisation."""
    return FleetSpec(
        (
            ServiceSpec("edge", capacity_rps=1000.0, replicas=2, base_rate_rps=rate, dependencies=(("web", 1.0),)),
            ServiceSpec(
                "web",
                capacity_rps=web_cap,
                replicas=web_replicas,
                startup_s=startup,
                dependencies=(("db", 0.5),),
                slo=SLO(latency_p99_s=0.5, error_rate=0.01),
            ),
            ServiceSpec("db", capacity_rps=200.0, replicas=2, base_error=0.0),
        ),
        shape=FLAT,
        nodes=nodes,
        noise_scale=0.0,
        poisson=False,
    )


@pytest.fixture
def make_sim() -> Callable[..., Simulation]:
    def make(**kw: float) -> Simulation:
        step = float(kw.pop("step_s", 60.0))
        return Simulation(flat_fleet(**kw), step_s=step)  # type: ignore[arg-type]

    return make


@pytest.fixture
def data_dir() -> Path:
    d = resolve_data_dir()
    if not (d / "traces").is_dir():
        pytest.skip(f"shared data folder not found at {d} (set HX_DATA_DIR to the folder holding traces/)")
    return d


@pytest.fixture
def last() -> Callable[..., float]:
    """The last recorded value of a signal: last(sim, service, signal, version=..., instance=...)."""

    def read(
        sim: Simulation, service: str, signal: str, version: str | None = None, instance: str | None = None
    ) -> float:
        return float(sim.series(service, signal, version=version, instance=instance)[1][-1])

    return read
