"""What a simulated fleet is made of: services, their SLOs and call graph, and a seeded fleet generator."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from hx.errors import BadInput
from hx.sim.traces import TrafficShape, default_shape, shape_for

#: A Monday, so the weekly profile starts at its beginning.
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
INSTANCE_TYPES: tuple[str, ...] = ("m5.large", "c5.xlarge", "m5.xlarge", "r5.large", "c5.large")
_NAMES: tuple[str, ...] = (
    "frontend",
    "api",
    "search",
    "auth",
    "catalog",
    "cart",
    "checkout",
    "users",
    "payments",
    "inventory",
    "recommend",
    "shipping",
    "reviews",
    "notify",
    "db-proxy",
    "cache",
)


@dataclass(frozen=True)
class SLO:
    """A service's objective: p99 latency at most ``latency_p99_s`` and error ratio at most ``error_rate``."""

    latency_p99_s: float = 0.5
    error_rate: float = 0.01


@dataclass(frozen=True)
class ServiceSpec:
    """One service: per-replica capacity (requests/s), replicas, version, dependencies and traffic.

    ``base_rate_rps`` is the mean external request rate (0 for internal services, which only get
    calls from their callers); ``dependencies`` are ``(service, calls per request)`` pairs.
    """

    name: str
    capacity_rps: float = 50.0
    replicas: int = 3
    version: str = "v1"
    instance_type: str = "m5.large"
    base_rate_rps: float = 0.0
    dependencies: tuple[tuple[str, float], ...] = ()
    slo: SLO = field(default_factory=SLO)
    startup_s: float = 60.0
    base_latency_s: float = 0.004
    base_memory: float = 0.35
    base_error: float = 0.0005
    phase_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in ' ,{}"='):
            raise BadInput(f"invalid service name {self.name!r}", field="name")
        if self.capacity_rps <= 0:
            raise BadInput(f"service {self.name}: capacity_rps must be > 0", field="capacity_rps")
        if self.replicas < 0:
            raise BadInput(f"service {self.name}: replicas must be >= 0", field="replicas")
        if self.startup_s < 0:
            raise BadInput(f"service {self.name}: startup_s must be >= 0", field="startup_s")


@dataclass(frozen=True)
class FleetSpec:
    """A whole fleet: services (their dependencies form a DAG), nodes, traffic shape, noise, seed."""

    services: tuple[ServiceSpec, ...]
    shape: TrafficShape = field(default_factory=default_shape)
    nodes: int = 3
    seed: int = 0
    noise_scale: float = 0.5
    noise_tau_s: float = 1800.0
    #: Draw each step's request count from a Poisson law (False: use the expected rate, for exact tests).
    poisson: bool = True

    def __post_init__(self) -> None:
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise BadInput("service names must be unique", field="services")
        known = set(names)
        for s in self.services:
            for dep, calls in s.dependencies:
                if dep not in known:
                    raise BadInput(f"service {s.name}: unknown dependency {dep!r}", field="dependencies")
                if calls < 0:
                    raise BadInput(f"service {s.name}: calls per request must be >= 0", field="dependencies")
        if self.nodes < 1:
            raise BadInput("a fleet needs at least one node", field="nodes")
        topo_order(self.services)  # raises on a cycle


def topo_order(services: tuple[ServiceSpec, ...]) -> list[int]:
    """Indices of services, callers before callees; BadInput if the call graph has a cycle."""
    index = {s.name: i for i, s in enumerate(services)}
    indeg = [0] * len(services)
    for s in services:
        for dep, _ in s.dependencies:
            indeg[index[dep]] += 1
    ready = [i for i, d in enumerate(indeg) if d == 0]
    order: list[int] = []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for dep, _ in services[i].dependencies:
            j = index[dep]
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    if len(order) != len(services):
        raise BadInput("the call graph has a cycle; dependencies must form a DAG", field="dependencies")
    return order


def service_names(n: int) -> list[str]:
    if n <= len(_NAMES):
        return list(_NAMES[:n])
    width = len(str(n - 1))
    return [f"svc-{i:0{width}d}" for i in range(n)]


def _call_graph(n: int, rng: np.random.Generator) -> list[list[tuple[int, float]]]:
    """Tiers 0..3; a service calls 1-2 services of the next tier (so the DAG is at most four deep)."""
    tiers = [min(3, (4 * i) // max(n, 1)) if n >= 4 else i for i in range(n)]
    deps: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for i in range(n):
        nxt = [j for j in range(n) if tiers[j] == tiers[i] + 1]
        if not nxt:
            continue
        k = min(len(nxt), int(rng.integers(1, 3)))
        for j in rng.choice(nxt, size=k, replace=False):
            deps[i].append((int(j), round(float(rng.uniform(0.3, 1.2)), 2)))
    return deps


def mean_loads(base: np.ndarray, deps: list[list[tuple[int, float]]]) -> np.ndarray:
    """Mean offered load per service once calls have fanned out (services ordered callers first)."""
    load = base.astype(np.float64).copy()
    for i in range(len(deps)):
        for j, calls in deps[i]:
            load[j] += load[i] * calls
    return load


def slo_targets(caps: np.ndarray, base_latency: np.ndarray, deps: list[list[tuple[int, float]]]) -> np.ndarray:
    """p99 targets: 1.2x the p99 through the call chain with every replica at 80 % utilisation, rounded
    up to 50 ms (so a fleet run near its sizing target meets them and saturation breaks them)."""
    own = base_latency + (-math.log(0.01)) / (caps * (1.0 - 0.8))
    total = own.copy()
    for i in reversed(range(len(deps))):
        total[i] = own[i] + max((total[j] for j, _ in deps[i]), default=0.0)
    return np.round(np.ceil(total * 1.2 / 0.05) * 0.05, 2)


def make_fleet(
    n_services: int = 5,
    seed: int = 0,
    trace: str = "profile",
    data_dir: str | Path | None = None,
    step_s: float = 60.0,
    target_peak_utilization: float = 0.7,
) -> FleetSpec:
    """A seeded fleet of ``n_services``: entry services take external traffic shaped by ``trace``,
    internal ones are called through a tiered DAG; replicas are sized so that the traffic's high level
    (99th percentile of the shape, times the noise) runs at ``target_peak_utilization``.

    >>> f = make_fleet(4, seed=1)
    >>> [s.name for s in f.services], f.services[0].base_rate_rps > 0
    (['frontend', 'api', 'search', 'auth'], True)
    """
    if n_services < 1:
        raise BadInput("n_services must be >= 1", field="n_services")
    if not 0 < target_peak_utilization < 1:
        raise BadInput("target_peak_utilization must be in (0, 1)", field="target_peak_utilization")
    rng = np.random.default_rng(seed)
    shape = shape_for(trace, data_dir, step_s)
    deps = _call_graph(n_services, rng)
    has_caller = {j for d in deps for j, _ in d}
    base = np.array([0.0 if i in has_caller else float(rng.lognormal(math.log(60.0), 0.6)) for i in range(n_services)])
    loads = mean_loads(base, deps)
    sigma = shape.sigma * 0.5  # FleetSpec.noise_scale default
    high = float(np.percentile(shape.values, 99)) * math.exp(2.0 * sigma)
    names = service_names(n_services)
    caps = rng.choice([50.0, 100.0, 200.0, 400.0], size=n_services)
    base_lat = rng.uniform(0.002, 0.02, size=n_services).round(4)
    slos = slo_targets(caps, base_lat, deps)
    services = []
    for i in range(n_services):
        cap = float(caps[i])
        replicas = max(2, math.ceil(loads[i] * high / (cap * target_peak_utilization)))
        services.append(
            ServiceSpec(
                name=names[i],
                capacity_rps=cap,
                replicas=replicas,
                instance_type=INSTANCE_TYPES[int(rng.integers(len(INSTANCE_TYPES)))],
                base_rate_rps=round(float(base[i]), 3),
                dependencies=tuple((names[j], c) for j, c in deps[i]),
                slo=SLO(latency_p99_s=float(slos[i]), error_rate=0.01),
                startup_s=float(rng.choice([30.0, 60.0, 90.0, 120.0])),
                base_latency_s=float(base_lat[i]),
                base_memory=round(float(rng.uniform(0.25, 0.45)), 3),
                phase_s=float(rng.normal(0.0, 600.0)),
            )
        )
    total = sum(s.replicas for s in services)
    return FleetSpec(tuple(services), shape=shape, nodes=max(3, math.ceil(total / 12)), seed=seed)
