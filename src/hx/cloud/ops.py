"""Multi-cloud operations shared by the API, the CLI and the demo: catalog resolution, estate checks, plan
reports against the baselines, and DR drills run against a simulated fleet.  No HTTP concerns here."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hx.actuate.base import ActionResult, Actuator, Capability
from hx.clock import Clock, SimClock
from hx.cloud import providers
from hx.cloud.baselines import greedy
from hx.cloud.candidates import PlacementInfeasible
from hx.cloud.catalog import Catalog, load_catalog
from hx.cloud.dr import STANDBY_FRACTION, DrillResult, DrPlan, drill, plan_dr
from hx.cloud.mix import single_cloud_variant
from hx.cloud.placement import PlacementOptions, place
from hx.cloud.plan import PlacementPlan
from hx.cloud.workload import Estate, Workload
from hx.config import Settings
from hx.errors import BadInput, HxError, UnknownName
from hx.sim.engine import Simulation
from hx.sim.spec import FleetSpec, ServiceSpec

SOURCE = "multi-cloud"
CATALOG_FILE = "catalog.json"  # in the data dir: written by ``hx catalog import``, read by every surface


# ---- catalog and estate checks (shared with the CLI) -------------------------------------------------


def catalog_for(settings: Settings) -> Catalog:
    """The catalog in force: the last of ``multi_cloud.catalog_files``, else ``<data dir>/catalog.json``
    (``hx catalog import``), else the built-in one; restricted to ``multi_cloud.clouds``."""
    files = settings.multi_cloud.catalog_files
    local = settings.data_dir / CATALOG_FILE
    cat = load_catalog(files[-1]) if files else load_catalog(local if local.exists() else None)
    clouds = settings.multi_cloud.clouds
    if clouds is None:
        return cat
    for name in clouds:
        providers.get(name, field="multi_cloud.clouds")
    return cat if set(clouds) >= set(cat.clouds()) else cat.restricted(clouds)


def check_estate(estate: Estate, cat: Catalog) -> None:
    """Names the estate gives (clouds, regions, jurisdictions, quota and current locations) must exist in
    the catalog; raises :class:`UnknownName` naming the workload and the item otherwise."""
    clouds = cat.clouds()
    locs = {str(k) for k in cat.regions_by_loc}
    codes = {k.region for k in cat.regions_by_loc}
    juris = sorted({r.jurisdiction for r in cat.regions_by_loc.values()})
    for w in estate.workloads:
        for c in w.clouds or []:
            if c not in clouds:
                raise UnknownName(f"cloud in workload {w.name!r}", c, clouds)
        for r in w.regions or []:
            if r not in locs and r not in codes:
                raise UnknownName(f"region in workload {w.name!r}", r, sorted(locs))
        for j in w.jurisdictions or []:
            if j not in juris:
                raise UnknownName(f"jurisdiction in workload {w.name!r}", j, juris)
    for key in estate.region_vcpu_quota:
        if key not in locs:
            raise UnknownName("region in region_vcpu_quota", key, sorted(locs))
    for name, where in estate.current.items():
        for loc in [where] if isinstance(where, str) else list(where):
            if loc not in locs:
                raise UnknownName(f"current location of {name!r}", loc, sorted(locs))


def check_plan(plan: PlacementPlan, cat: Catalog) -> None:
    """Every placement of ``plan`` must name a catalog location and an instance type offered there."""
    for a in plan.assignments:
        for p in a.placements:
            loc = p.loc
            cat.region(loc)
            cat.offer(loc.cloud, loc.region, p.instance_type)


def comparisons(estate: Estate, cat: Catalog, plan: PlacementPlan) -> dict[str, Any]:
    """The plan against the greedy baseline and the best single cloud (USD/hour and savings)."""
    g = greedy(estate, cat).total_usd_per_hour
    single: dict[str, float | None] = {}
    why: dict[str, str] = {}
    fresh = single_cloud_variant(estate.model_copy(update={"current": {}}))
    for c in cat.clouds():
        try:
            opts = PlacementOptions(clouds=[c], explain=False)
            single[c] = round(place(fresh, cat, opts).total_usd_per_hour, 6)
        except PlacementInfeasible as err:
            single[c], why[c] = None, str(err)
    feasible = {c: v for c, v in single.items() if v is not None}
    best = min(feasible, key=lambda c: feasible[c]) if feasible else None
    total = plan.total_usd_per_hour
    return {
        "greedy_usd_per_hour": round(g, 6),
        "savings_vs_greedy_pct": round(100 * (1 - total / g), 2) if g > 0 else 0.0,
        "single_cloud_usd_per_hour": single,
        "single_cloud_infeasible": why,
        "best_single_cloud": best,
        "savings_vs_best_single_cloud_pct": round(100 * (1 - total / feasible[best]), 2) if best else None,
    }


def plan_report(estate: Estate, cat: Catalog, plan: PlacementPlan) -> dict[str, Any]:
    """The plan as JSON with its summary and comparisons (what the API returns and ``hx place --json`` prints)."""
    return {
        "summary": plan.summary(),
        "comparison": comparisons(estate, cat, plan),
        "plan": plan.model_dump(),
    }


# ---- DR drills on a simulated fleet -------------------------------------------------------------------


@dataclass(frozen=True)
class DrillTimings:
    """Modelled durations of the runbook's named actions (the sim models instance start-up itself)."""

    promote_s: float = 30.0  # promoting the replicated database at the standby
    restore_s_per_gb: float = 2.0  # restoring a snapshot, about 0.5 GB/s
    health_timeout_s: float = 1800.0


def version_tag(location: str, prefix: str = "") -> str:
    """A sim version name for a location: ``aws:eu-west-1`` -> ``dr-aws-eu-west-1``."""
    return prefix + re.sub(r"[^A-Za-z0-9._-]", "-", location)


def service_name(workload: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", workload) or "workload"


def sim_waiter(sim: Simulation, clock: Clock) -> Callable[[float], None]:
    """Advance time by some seconds: step the sim (and a simulated clock); on a wall clock, sleep while
    the runtime's sim engine advances the fleet."""

    def wait(seconds: float) -> None:
        if isinstance(clock, SimClock):
            target = clock.now() + timedelta(seconds=seconds)
            sim.run_until(target)
            if clock.now() < target:
                clock.set(target)
        else:
            time.sleep(seconds)

    return wait


class SimDrillActuator:
    """The runbook's verbs on a simulated fleet: ``workload@location`` targets become versions of a stand-in
    service (the primary's current version, and ``dr-<location>`` for the standby); replica counts are scaled
    by ``factor`` (stand-in replicas per workload replica). Named actions take modelled time
    (:class:`DrillTimings`); ``verify-health`` waits until every standby replica is ready and serving.
    Errors of the fleet (a version not deployed, say) are returned as failed steps, not raised.
    """

    name = "sim-drill"

    def __init__(
        self,
        inner: Actuator,
        sim: Simulation,
        service: str,
        plan: DrPlan,
        wait: Callable[[float], None],
        *,
        data_gb: float = 0.0,
        factor: float = 1.0,
        timings: DrillTimings | None = None,
    ) -> None:
        self.inner, self.sim, self.service, self.plan, self.wait = inner, sim, service, plan, wait
        self.data_gb, self.factor, self.timings = data_gb, factor, timings or DrillTimings()
        primary = sim.groups.versions[sim.primary_group(sim.service_id(service))]
        self.versions = {plan.primary: primary, plan.standby: version_tag(plan.standby, "dr-")}

    @property
    def standby_version(self) -> str:
        return self.versions[self.plan.standby]

    @property
    def primary_version(self) -> str:
        return self.versions[self.plan.primary]

    def capabilities(self) -> frozenset[Capability]:
        return frozenset(Capability)

    def _version(self, target: str) -> str:
        _, sep, loc = target.rpartition("@")
        if not sep or loc not in self.versions:
            raise BadInput(f"drill target {target!r} names neither the primary nor the standby", field="target")
        return self.versions[loc]

    def _count(self, n: int) -> int:
        return max(1, round(n * self.factor)) if n > 0 else 0

    def _guard(self, verb: str, target: str, call: Callable[[], ActionResult]) -> ActionResult:
        try:
            res = call()
        except HxError as err:
            return ActionResult(verb, target, False, str(err), changed=False)
        return ActionResult(verb, target, res.ok, res.detail, res.changed, res.output)

    def scale(self, service: str, replicas: int, *, timeout: float = 60.0) -> ActionResult:
        return self._guard(
            "scale", service, lambda: self.inner.deploy(self.service, self._version(service), self._count(replicas))
        )

    def deploy(self, service: str, version: str, instances: int, *, timeout: float = 300.0) -> ActionResult:
        return self._guard(
            "deploy", service, lambda: self.inner.deploy(self.service, self._version(service), self._count(instances))
        )

    def set_traffic_split(self, service: str, weights: Mapping[str, float], *, timeout: float = 60.0) -> ActionResult:
        return self._guard(
            "set_traffic_split",
            service,
            lambda: self.inner.set_traffic_split(self.service, {self._version(k): w for k, w in weights.items()}),
        )

    def restart(self, instance: str, *, timeout: float = 60.0) -> ActionResult:
        return self._guard("restart", instance, lambda: self.inner.restart(instance))

    def run(self, action: str, params: Mapping[str, Any], *, timeout: float = 300.0) -> ActionResult:
        if action == "promote-replica":
            self.wait(self.timings.promote_s)
            return ActionResult("run", action, True, f"replica promoted at {params.get('at')} (modelled)")
        if action == "restore-snapshot":
            secs = self.data_gb * self.timings.restore_s_per_gb
            self.wait(secs)
            return ActionResult("run", action, True, f"{self.data_gb:g} GB restored in {secs:.0f} s (modelled)")
        if action == "verify-health":
            return self._verify(need_traffic=True)
        return ActionResult("run", action, False, f"unknown drill action {action!r}", changed=False)

    def ready(self, version: str) -> tuple[int, int]:
        """(ready replicas, desired replicas) of a version of the stand-in service."""
        g = self.sim.group_id(self.service, version)
        want = int(self.sim.groups.col("desired")[g]) if self.sim.groups.col("active")[g] else 0
        names = self.sim.instances(self.service, version)
        ready_at = self.sim.inst.col("ready_at")
        n = sum(1 for name in names if ready_at[self.sim.inst.index[name]] <= self.sim.t)
        return n, want

    def _verify(self, need_traffic: bool) -> ActionResult:
        v, waited, t0 = self.standby_version, 0.0, self.sim.t
        while True:
            n, want = self.ready(v)
            g = self.sim.group_id(self.service, v)
            serving = not need_traffic or self.sim.groups.col("weight")[g] > 0
            if want > 0 and n >= want and serving:
                return ActionResult("run", "verify-health", True, f"{self.service} {v}: {n}/{want} replicas ready")
            stalled = waited >= 3 * self.sim.step_s and self.sim.t == t0
            if waited >= self.timings.health_timeout_s or stalled:
                why = " (the fleet is not advancing: is the runtime's sim engine running?)" if stalled else ""
                return ActionResult(
                    "run", "verify-health", False, f"{self.service} {v}: {n}/{want} ready after {waited:.0f} s{why}"
                )
            self.wait(self.sim.step_s)
            waited += self.sim.step_s

    def prepare(self, workload_replicas: int) -> dict[str, Any]:
        """Put the standby in its steady state before the drill: the running share of replicas by strategy
        (and half the traffic for active-active); waits until it is ready."""
        running = round(workload_replicas * STANDBY_FRACTION[self.plan.strategy])
        if running == 0:
            return {"standby_running": 0}
        n = self._count(max(1, running))
        self.inner.deploy(self.service, self.standby_version, n)
        if self.plan.strategy == "active_active":
            self.inner.set_traffic_split(self.service, {self.primary_version: 0.5, self.standby_version: 0.5})
        ready = self._verify(need_traffic=False)
        return {"standby_running": n, "ready": ready.ok}

    def fail_back(self) -> None:
        """All traffic back to the primary version; the standby version removed."""
        self.inner.set_traffic_split(self.service, {self.primary_version: 1.0})
        self.inner.deploy(self.service, self.standby_version, 0)

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for v in self.sim.versions(self.service, include_inactive=True):
            g = self.sim.group_id(self.service, v)
            n, want = self.ready(v)
            out[v] = {"ready": n, "desired": want, "weight": round(float(self.sim.groups.col("weight")[g]), 4)}
        return out


DRILL_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def fresh_drill_sim(workload: Workload, plan: DrPlan, step_s: float = 10.0) -> tuple[Simulation, SimClock, str]:
    """A one-service fleet standing in for ``workload`` at its primary location, on its own simulated clock."""
    clock = SimClock(DRILL_START)
    svc = ServiceSpec(
        name=service_name(workload.name),
        replicas=workload.replicas,
        version=version_tag(plan.primary),
        base_rate_rps=20.0 * workload.replicas,
        capacity_rps=50.0,
    )
    spec = FleetSpec((svc,), nodes=max(3, math.ceil(3 * workload.replicas / 8)), seed=0, poisson=False)
    sim = Simulation(spec, clock=clock, step_s=step_s, history_mb=4.0)
    sim.run(steps=6)
    return sim, clock, svc.name


def run_sim_drill(
    plan: DrPlan,
    workload: Workload,
    adapter: SimDrillActuator,
    clock: Clock,
    failback: bool,
) -> dict[str, Any]:
    """Prepare the standby, run the runbook (RTO on ``clock``), record the fleet after it, fail back if asked."""
    prep = adapter.prepare(workload.replicas)
    result: DrillResult = drill(plan, adapter, clock)
    after = adapter.state()
    if failback:
        adapter.fail_back()
    return {
        **result.model_dump(),
        "strategy": plan.strategy,
        "primary": plan.primary,
        "standby": plan.standby,
        "service": adapter.service,
        "primary_version": adapter.primary_version,
        "standby_version": adapter.standby_version,
        "prepared": prep,
        "after_failover": after,
        "failed_back": failback,
        "timings": {
            "promote_s": adapter.timings.promote_s,
            "restore_s_per_gb": adapter.timings.restore_s_per_gb,
            "step_s": adapter.sim.step_s,
        },
    }


def drill_on_fresh_sim(plan: DrPlan, workload: Workload, timings: DrillTimings | None = None) -> dict[str, Any]:
    """A drill on a fresh simulated fleet in simulated time (``hx dr drill``)."""
    from hx.sim.actuator import SimActuator

    sim, clock, name = fresh_drill_sim(workload, plan)
    adapter = SimDrillActuator(
        SimActuator(sim), sim, name, plan, sim_waiter(sim, clock), data_gb=workload.data_gb, timings=timings
    )
    return {**run_sim_drill(plan, workload, adapter, clock, failback=False), "target": "fresh-sim"}


def platform_sim(actuator: Actuator | None) -> Simulation | None:
    """The simulated fleet behind the platform's actuator (unwrapping the checkpointing wrapper), if any."""
    from hx.sim.actuator import SimActuator

    inner = getattr(actuator, "inner", actuator)
    return inner.sim if isinstance(inner, SimActuator) else None


def plan_for(estate: Estate, cat: Catalog, workload: str, options: PlacementOptions | None = None) -> DrPlan:
    """Place ``estate`` and return the DR plan of one of its workloads."""
    names = [w.name for w in estate.workloads]
    if workload not in names:
        raise UnknownName("workload", workload, names)
    plan = place(estate, cat, options)
    w = next(x for x in estate.workloads if x.name == workload)
    only = estate.model_copy(update={"workloads": [w], "egress": [], "current": {}})  # other workloads' DR aside
    return plan_dr(only, plan, cat)[0]


# ---- request bodies -------------------------------------------------------------------------------------
