"""The simulated fleet hx watches by default: services, replicas, versions, trace-driven traffic, faults.

A deterministic (seeded), vectorised, discrete-time model. ``Simulation`` (alias ``Fleet``) steps it in
simulated time; ``SimSource`` reads its signals and ``SimActuator`` acts on it; ``render_exposition``
and ``serve`` expose it to Prometheus; ``run_summary`` replays days of traffic for ``hx sim run``.

>>> sim = Simulation(make_fleet(3, seed=1))
>>> sim.run(steps=60)
>>> fid = sim.inject(Fault("error_spike", service="api", magnitude=0.3))
>>> sim.run(steps=5)
>>> round(float(sim.series("api", "error_rate")[1][-1]), 1)
0.3
"""

from hx.sim.actuator import SimActuator
from hx.sim.engine import Simulation
from hx.sim.exposition import SimServer, render_exposition, serve
from hx.sim.faults import Fault, FaultKind, FaultRecord
from hx.sim.history import INSTANCE_SIGNALS, SERVICE_SIGNALS, VERSION_SIGNALS
from hx.sim.source import SimSource
from hx.sim.spec import SLO, FleetSpec, ServiceSpec, make_fleet
from hx.sim.summary import replica_minutes, run_summary, slo_violation_minutes, sparkline
from hx.sim.traces import TRACE_NAMES, TrafficShape, default_shape, load_trace, resolve_data_dir, shape_for

Fleet = Simulation

__all__ = [
    "INSTANCE_SIGNALS",
    "SERVICE_SIGNALS",
    "SLO",
    "TRACE_NAMES",
    "VERSION_SIGNALS",
    "Fault",
    "FaultKind",
    "FaultRecord",
    "Fleet",
    "FleetSpec",
    "ServiceSpec",
    "SimActuator",
    "SimServer",
    "SimSource",
    "Simulation",
    "TrafficShape",
    "default_shape",
    "load_trace",
    "make_fleet",
    "render_exposition",
    "replica_minutes",
    "resolve_data_dir",
    "run_summary",
    "serve",
    "shape_for",
    "slo_violation_minutes",
    "sparkline",
]
