"""Disaster-recovery plans from RPO/RTO, and drills that run the failover through an actuator.

Strategy by RTO/RPO (seconds): active-active when RTO <= 60; warm standby when RTO <= 15 min;
pilot light when RTO <= 4 h; backup and restore otherwise (an RPO under 15 min also rules out backup
and restore, which ships snapshots). The standby goes to the cheapest other location (another cloud
when one is allowed, else another region) that satisfies the workload's residency and latency rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from hx.actuate.base import Actuator
from hx.clock import Clock
from hx.cloud.candidates import Candidate, PlacementInfeasible
from hx.cloud.catalog import Catalog, Location
from hx.cloud.placement import candidate_sets
from hx.cloud.plan import Assignment, PlacementPlan
from hx.cloud.workload import Estate, Workload

Strategy = Literal["backup_restore", "pilot_light", "warm_standby", "active_active"]
#: fraction of the primary's replicas kept running at the standby, by strategy
STANDBY_FRACTION: dict[str, float] = {
    "backup_restore": 0.0,
    "pilot_light": 0.0,
    "warm_standby": 0.5,
    "active_active": 1.0,
}
#: storage of replicated data / snapshots, USD per GB-month (about block-storage list price)
STORAGE_USD_PER_GB_MONTH = 0.08


class RunbookStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verb: Literal["deploy", "scale", "set_traffic_split", "run"]
    target: str
    params: dict[str, Any] = {}
    note: str = ""


class DrPlan(BaseModel):
    """The DR plan of one workload."""

    model_config = ConfigDict(extra="forbid")
    workload: str
    strategy: Strategy
    rpo_s: float
    rto_s: float
    primary: str
    standby: str
    standby_instance_type: str
    extra_usd_per_hour: float
    runbook: list[RunbookStep]
    reason: str


class DrillResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workload: str
    ok: bool
    achieved_rto_s: float
    target_rto_s: float
    met: bool
    steps: list[dict[str, Any]]


def choose_strategy(rpo_s: float, rto_s: float) -> tuple[Strategy, str]:
    if rto_s <= 60:
        return "active_active", f"RTO {rto_s:.0f}s <= 60s needs traffic already served from both sides"
    if rto_s <= 900:
        return "warm_standby", f"RTO {rto_s:.0f}s <= 15 min needs a scaled-down copy running"
    if rto_s <= 4 * 3600 or rpo_s < 900:
        return (
            "pilot_light",
            f"RTO {rto_s:.0f}s <= 4 h (or RPO {rpo_s:.0f}s < 15 min) needs replicated data, cold compute",
        )
    return "backup_restore", f"RTO {rto_s:.0f}s and RPO {rpo_s:.0f}s allow restoring from snapshots"


def plan_dr(
    estate: Estate,
    plan: PlacementPlan,
    catalog: Catalog | None = None,
    default_rpo_s: float = 3600,
    default_rto_s: float = 4 * 3600,
) -> list[DrPlan]:
    """A DR plan for every workload of ``plan``."""
    cat = catalog if catalog is not None else Catalog.builtin()
    csets = candidate_sets(estate, cat)
    by_name = {a.workload: a for a in plan.assignments}
    return [
        _plan_one(w, by_name[w.name], csets[w.name].candidates, default_rpo_s, default_rto_s) for w in estate.workloads
    ]


def _standby(w: Workload, a: Assignment, cands: list[Candidate]) -> Candidate:
    used = {p.loc for p in a.placements}
    clouds = {loc.cloud for loc in used}
    other_cloud = [c for c in cands if c.location.cloud not in clouds]
    other_region = [c for c in cands if c.location not in used]
    pick = other_cloud or other_region
    if not pick:
        raise PlacementInfeasible(
            f"workload {w.name!r}: no other location satisfies its residency/latency rules for a standby",
            constraint="dr",
            workload=w.name,
        )
    return pick[0]


def _plan_one(w: Workload, a: Assignment, cands: list[Candidate], rpo0: float, rto0: float) -> DrPlan:
    rpo, rto = w.rpo_s or rpo0, w.rto_s or rto0
    strategy, reason = choose_strategy(rpo, rto)
    sb = _standby(w, a, cands)
    running = max(1, round(w.replicas * STANDBY_FRACTION[strategy])) if STANDBY_FRACTION[strategy] else 0
    storage = w.data_gb * STORAGE_USD_PER_GB_MONTH / 730.0
    extra = running * sb.unit_price + storage * (2 if strategy != "backup_restore" else 1)
    primary = max(a.placements, key=lambda p: p.replicas).location
    return DrPlan(
        workload=w.name,
        strategy=strategy,
        rpo_s=rpo,
        rto_s=rto,
        primary=primary,
        standby=str(sb.location),
        standby_instance_type=sb.instance_type,
        extra_usd_per_hour=round(extra, 6),
        runbook=runbook(w, strategy, primary, sb.location),
        reason=reason,
    )


def runbook(w: Workload, strategy: Strategy, primary: str, standby: Location) -> list[RunbookStep]:
    """Ordered failover actions through the actuator verbs."""
    sb = f"{w.name}@{standby}"
    steps: list[RunbookStep] = []
    if strategy == "backup_restore":
        steps.append(
            RunbookStep(verb="run", target="restore-snapshot", params={"workload": w.name, "to": str(standby)})
        )
    if strategy in ("backup_restore", "pilot_light"):
        steps.append(RunbookStep(verb="deploy", target=sb, params={"version": "current", "instances": w.replicas}))
    if strategy == "pilot_light":
        steps.insert(
            0, RunbookStep(verb="run", target="promote-replica", params={"workload": w.name, "at": str(standby)})
        )
    if strategy == "warm_standby":
        steps.append(RunbookStep(verb="run", target="promote-replica", params={"workload": w.name, "at": str(standby)}))
        steps.append(RunbookStep(verb="scale", target=sb, params={"replicas": w.replicas}))
    steps.append(
        RunbookStep(verb="set_traffic_split", target=w.name, params={"weights": {sb: 1.0, f"{w.name}@{primary}": 0.0}})
    )
    steps.append(RunbookStep(verb="run", target="verify-health", params={"service": sb}))
    return steps


def _call(actuator: Actuator, step: RunbookStep) -> Any:
    p: Mapping[str, Any] = step.params
    if step.verb == "deploy":
        return actuator.deploy(step.target, str(p.get("version", "current")), int(p.get("instances", 1)))
    if step.verb == "scale":
        return actuator.scale(step.target, int(p["replicas"]))
    if step.verb == "set_traffic_split":
        return actuator.set_traffic_split(step.target, p["weights"])
    return actuator.run(step.target, p)


def drill(plan: DrPlan, actuator: Actuator, clock: Clock) -> DrillResult:
    """Run the failover runbook through ``actuator``; the achieved RTO is measured on ``clock``.

    Stops at the first failed step (the drill then fails and the RTO counts up to that step).
    """
    start = clock.now()
    steps: list[dict[str, Any]] = []
    ok = True
    for step in plan.runbook:
        res = _call(actuator, step)
        steps.append(
            {
                "verb": step.verb,
                "target": step.target,
                "ok": res.ok,
                "detail": res.detail,
                "at_s": (clock.now() - start).total_seconds(),
            }
        )
        if not res.ok:
            ok = False
            break
    rto = (clock.now() - start).total_seconds()
    return DrillResult(
        workload=plan.workload,
        ok=ok,
        achieved_rto_s=rto,
        target_rto_s=plan.rto_s,
        met=ok and rto <= plan.rto_s,
        steps=steps,
    )
