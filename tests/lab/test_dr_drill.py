"""DR drills run through the sim actuator: the RTO is measured in simulated time and the fleet changes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hx.cloud.candidates import PlacementInfeasible
from hx.cloud.catalog import Catalog
from hx.cloud.planning import plan_for
from hx.cloud.workload import Estate, Workload
from hx.lab.dr_drill import (
    DrillTimings,
    SimDrillActuator,
    drill_on_fresh_sim,
    fresh_drill_sim,
    run_sim_drill,
    sim_waiter,
)
from hx.sim.actuator import SimActuator

CAT = Catalog.builtin()


def _estate() -> Estate:
    return Estate(
        workloads=[
            Workload(name="eu-api", vcpus=2, memory_gib=8, replicas=4, jurisdictions=["EU"], rto_s=600, rpo_s=60),
            Workload(name="db", vcpus=4, memory_gib=16, replicas=2, rto_s=86400, rpo_s=86400, data_gb=100),
        ]
    )


def test_warm_standby_drill_scales_the_standby_and_moves_traffic() -> None:
    est = _estate()
    plan = plan_for(est, CAT, "eu-api")
    assert plan.strategy == "warm_standby"
    out = drill_on_fresh_sim(plan, est.workloads[0])
    assert out["ok"] and out["met"]
    # promote (30 s modelled) + the new replicas' start-up (60 s) at 10 s steps: more than the promotion alone
    assert 30 < out["achieved_rto_s"] <= plan.rto_s
    assert out["prepared"] == {"standby_running": 2, "ready": True}
    after = out["after_failover"]
    standby, primary = after[out["standby_version"]], after[out["primary_version"]]
    assert standby == {"ready": 4, "desired": 4, "weight": 1.0}
    assert primary["weight"] == 0.0
    assert [s["verb"] for s in out["steps"]] == ["run", "scale", "set_traffic_split", "run"]


def test_backup_restore_takes_the_modelled_restore_time_and_can_miss_its_target() -> None:
    est = _estate()
    plan = plan_for(est, CAT, "db")
    assert plan.strategy == "backup_restore"
    fast = drill_on_fresh_sim(plan, est.workloads[1])
    assert fast["met"] and fast["achieved_rto_s"] >= 100 * 2.0  # 100 GB at 2 s/GB before any compute
    tight = plan.model_copy(update={"rto_s": 120.0})
    slow = drill_on_fresh_sim(tight, est.workloads[1])
    assert slow["ok"] and not slow["met"] and slow["achieved_rto_s"] == fast["achieved_rto_s"]


def test_drill_on_a_shared_fleet_fails_back_and_reports_a_failed_step() -> None:
    est = _estate()
    plan = plan_for(est, CAT, "eu-api")
    sim, clock, name = fresh_drill_sim(est.workloads[0], plan)
    start = clock.now()
    adapter = SimDrillActuator(SimActuator(sim), sim, name, plan, sim_waiter(sim, clock), factor=0.5)
    out = run_sim_drill(plan, est.workloads[0], adapter, clock, failback=True)
    assert out["ok"] and out["after_failover"][adapter.standby_version]["desired"] == 2  # 4 replicas x 0.5
    assert clock.now() - start >= timedelta(seconds=out["achieved_rto_s"])
    assert sim.versions(name) == [adapter.primary_version]  # failed back: the standby version is gone
    # a standby slower to start (60 s) than the health timeout: the drill fails at verify-health
    broken = SimDrillActuator(
        SimActuator(sim), sim, name, plan, sim_waiter(sim, clock), timings=DrillTimings(health_timeout_s=10)
    )
    res = run_sim_drill(plan, est.workloads[0], broken, clock, failback=False)
    assert not res["ok"] and res["steps"][-1]["target"] == "verify-health"


def test_unknown_targets_are_refused() -> None:
    est = _estate()
    plan = plan_for(est, CAT, "eu-api")
    sim, clock, name = fresh_drill_sim(est.workloads[0], plan)
    adapter = SimDrillActuator(SimActuator(sim), sim, name, plan, sim_waiter(sim, clock))
    res = adapter.scale("eu-api@aws:nowhere-1", 2)
    assert not res.ok and "names neither" in res.detail
    assert not adapter.run("reboot-datacenter", {}).ok


def test_one_workload_without_a_standby_location_does_not_block_the_others() -> None:
    pinned = Workload(name="pinned", vcpus=2, memory_gib=4, regions=["aws:eu-west-1"])
    est = Estate(workloads=[*_estate().workloads, pinned])
    assert plan_for(est, CAT, "eu-api").workload == "eu-api"
    with pytest.raises(PlacementInfeasible) as err:
        plan_for(est, CAT, "pinned")
    assert err.value.constraint == "dr" and err.value.workload == "pinned"
