"""Fault scenarios in small simulated fleets: the labelled history the classifier learns from, and the bench's cases.

A scenario picks a fault kind, a service and a magnitude (seeded); version faults (latency
regression, error spike) ride on a fresh deployment, as they do in life.  The training set injects
each kind into small sims with varied seeds and magnitudes, waits for the threshold rules
(:mod:`hx.lab.alert_rules`) to fire on the faulty service and extracts the incident's features at that
moment; every row is flagged ``training_data="simulated"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from hx.heal import features as feat
from hx.heal.classify import FAULT_CLASS
from hx.heal.triage import ONSET_LEAD_S, TRIAGE_DELAY_S
from hx.lab.alert_rules import RuleAlerter
from hx.sim import Fault, SimSource, Simulation, make_fleet

#: kind -> (low, high) magnitude drawn uniformly.
MAGNITUDES: dict[str, tuple[float, float]] = {
    "memory_leak": (0.006, 0.02), "cpu_hog": (0.5, 0.85), "latency_regression": (0.2, 0.8),
    "error_spike": (0.1, 0.5), "crash_loop": (1.0, 1.0), "node_loss": (1.0, 1.0), "disk_fill": (0.01, 0.04),
    "dependency_failure": (0.5, 1.0), "traffic_surge": (8.0, 15.0),
}  # fmt: skip
VERSION_KINDS = ("latency_regression", "error_spike")
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Scenario:
    kind: str
    service: str
    magnitude: float
    deployed: bool
    node: str | None = None

    @property
    def incident_class(self) -> str:
        return FAULT_CLASS[self.kind]


def pick(sim: Simulation, kind: str, rng: np.random.Generator) -> Scenario:
    lo, hi = MAGNITUDES[kind]
    mag = float(rng.uniform(lo, hi))
    names = list(sim.names)
    if kind == "traffic_surge":
        entries = [s.name for s in sim.spec.services if s.base_rate_rps > 0]
        return Scenario(kind, str(rng.choice(entries)), mag, False)
    if kind == "dependency_failure":
        callees = sorted({d for s in sim.spec.services for d, _ in s.dependencies})
        return Scenario(kind, str(rng.choice(callees or names)), mag, False)
    if kind == "node_loss":
        node = str(rng.choice(sim.node_names))
        on_node = sorted({sim.instance_labels(sim.inst.index[i])[0] for i in sim.instances()
                          if sim.instance_labels(sim.inst.index[i])[3] == node})  # fmt: skip
        return Scenario(kind, on_node[0] if on_node else names[0], mag, False, node)
    deployed = kind in VERSION_KINDS or bool(rng.random() < 0.2)
    return Scenario(kind, str(rng.choice(names)), mag, deployed)


def deploy_new_version(sim: Simulation, service: str, version: str = "v2") -> None:
    """Replace the service's version with ``version`` (all traffic, same replica count)."""
    s = sim.service_id(service)
    replicas = int(sum(sim.groups.col("desired")[g] for (si, _), g in sim.groups.index.items()
                       if si == s and sim.groups.col("active")[g]))  # fmt: skip
    old = sim.versions(service)
    sim.deploy(service, version, max(replicas, 1))
    sim.set_traffic_split(service, {version: 1.0})
    for v in old:
        if v != version:
            sim.deploy(service, v, 0)


def inject(sim: Simulation, sc: Scenario) -> str:
    if sc.kind == "node_loss":
        return sim.inject(Fault("node_loss", node=sc.node, magnitude=sc.magnitude))
    return sim.inject(Fault(sc.kind, service=sc.service, magnitude=sc.magnitude))


def node_alerts(sim: Simulation, sc: Scenario) -> list[str]:
    """A stand-in for a node exporter's ``up == 0``: NodeDown while the scenario's node is down."""
    if sc.node is None:
        return []
    return ["NodeDown"] if not bool(sim.node_up[sim.node_id(sc.node)]) else []


def training_example(seed: int, kind: str, step_s: float = 60.0, max_wait_s: float = 2400.0) -> dict[str, Any] | None:
    """One labelled example: features at the moment the first alert fires on the faulty service (None: never fired)."""
    rng = np.random.default_rng(seed)
    sim = Simulation(make_fleet(4, seed=seed, step_s=step_s), start=START, step_s=step_s)
    sim.run(seconds=5400)
    sc = pick(sim, kind, rng)
    deployed_at = None
    if sc.deployed:
        deploy_new_version(sim, sc.service)
        deployed_at = sim.now
        sim.run(seconds=300)
    inject(sim, sc)
    alerter = RuleAlerter(SimSource(sim), step_s=step_s)
    waited = 0.0
    while waited < max_wait_s:
        sim.run(seconds=60)
        waited += 60
        names = _alert_names(alerter, sim, sc)
        if names:
            # as the engine does: triage once the incident has settled (TRIAGE_DELAY_S, on the step grid)
            opened = sim.now
            sim.run(seconds=float(np.ceil(TRIAGE_DELAY_S / step_s) * step_s))
            names = sorted(set(names) | set(_alert_names(alerter, sim, sc)))
            age = (sim.now - deployed_at).total_seconds() / 60 if deployed_at else 999.0
            changes = {"deploy_recent": 1.0 if deployed_at else 0.0, "scaled_recent": 0.0, "deploy_age_min": age}
            onset = opened - timedelta(seconds=ONSET_LEAD_S)
            x = feat.extract(SimSource(sim), sc.service, onset, sim.now, names, changes, step_s)
            return {"features": x, "label": sc.incident_class, "kind": kind, "seed": seed, "alerts": names}
    return None


def _alert_names(alerter: RuleAlerter, sim: Simulation, sc: Scenario) -> list[str]:
    return [r.name for r, svc in alerter.firing([sc.service], sim.now) if svc == sc.service] + node_alerts(sim, sc)


def training_set(n_per_kind: int = 12, seed: int = 100) -> list[dict[str, Any]]:
    """Labelled examples for every fault kind (simulated; varied seeds and magnitudes)."""
    out = []
    for k, kind in enumerate(sorted(MAGNITUDES)):
        for i in range(n_per_kind):
            ex = training_example(seed + 1000 * k + i, kind)
            if ex is not None:
                out.append(ex)
    return out
