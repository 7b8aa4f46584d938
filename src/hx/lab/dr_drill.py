"""DR drills on a simulated fleet: the failover runbook's verbs played against stand-in versions of one service,
the RTO measured in simulated time (``hx dr drill``, ``POST /dr/drills``, the demo's cloud scene)."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hx.actuate.base import ActionResult, Actuator, Capability
from hx.clock import Clock, SimClock
from hx.cloud.dr import STANDBY_FRACTION, DrillResult, DrPlan, drill
from hx.cloud.workload import Workload
from hx.errors import BadInput, HxError
from hx.lab.jobs import JobControl, Jobs
from hx.platform import Platform
from hx.sim.actuator import SimActuator
from hx.sim.engine import Simulation
from hx.sim.spec import FleetSpec, ServiceSpec


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


def sim_waiter(sim: Simulation, clock: Clock, control: JobControl | None = None) -> Callable[[float], None]:
    """Advance time by some seconds: step the sim (and a simulated clock); on a wall clock, sleep while
    the runtime's sim engine advances the fleet.  In a job (``control``), every wait can be cancelled: on the
    wall clock the sleep stops at once, on a simulated clock before each advance."""
    waited = 0.0

    def wait(seconds: float) -> None:
        nonlocal waited
        if control is not None:
            control.check()
            control.progress(waited_s=round(waited, 1), sim_t=sim.now.isoformat())
        if isinstance(clock, SimClock):
            target = clock.now() + timedelta(seconds=seconds)
            sim.run_until(target)
            if clock.now() < target:
                clock.set(target)
        elif control is not None:
            control.sleep(seconds)
        else:
            time.sleep(seconds)
        waited += seconds

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


def drill_on_fresh_sim(
    plan: DrPlan, workload: Workload, timings: DrillTimings | None = None, control: JobControl | None = None
) -> dict[str, Any]:
    """A drill on a fresh simulated fleet in simulated time (``hx dr drill``, or a drill job with ``control``)."""
    sim, clock, name = fresh_drill_sim(workload, plan)
    wait = sim_waiter(sim, clock, control)
    adapter = SimDrillActuator(SimActuator(sim), sim, name, plan, wait, data_gb=workload.data_gb, timings=timings)
    return {**run_sim_drill(plan, workload, adapter, clock, failback=False), "target": "fresh-sim"}


def platform_sim(actuator: Actuator | None) -> Simulation | None:
    """The simulated fleet behind the platform's actuator (unwrapping the checkpointing wrapper), if any."""
    inner = getattr(actuator, "inner", actuator)
    return inner.sim if isinstance(inner, SimActuator) else None


_JOBS_LOCK = threading.Lock()


def drill_jobs(platform: Platform) -> Jobs:
    """The platform's drill jobs (made on first use; cancelled and awaited when the server stops)."""
    with _JOBS_LOCK:
        jobs = platform.services.get("dr-drill-jobs", Jobs)
        if jobs is None:
            jobs = Jobs(platform.store, platform.clock, kind="dr-drill")
            platform.services.put("dr-drill-jobs", jobs)
            platform.on_shutdown.append(jobs.shutdown)
        return jobs
