from __future__ import annotations

from collections.abc import Callable

import pytest

from hx.actuate.base import Actuator, Capability
from hx.errors import BadInput, NotFound, UnknownName
from hx.sim.actuator import SimActuator
from hx.sim.engine import Simulation
from hx.sim.faults import Fault

Make = Callable[..., Simulation]
Last = Callable[..., float]


def test_capabilities_are_all_supported(make_sim: Make) -> None:
    act: Actuator = SimActuator(make_sim())
    assert act.capabilities() == frozenset(Capability)
    assert act.name == "sim"


def test_scale_is_idempotent_and_takes_start_up_time(make_sim: Make, last: Last) -> None:
    sim = make_sim(startup=120.0)
    act = SimActuator(sim)
    r = act.scale("web", 6)
    assert (r.ok, r.changed, r.output) == (True, True, {"before": 4, "after": 6})
    assert act.scale("web", 6).changed is False
    sim.step()
    assert last(sim, "web", "ready_replicas") == 4
    sim.run(steps=2)
    assert last(sim, "web", "ready_replicas") == 6


def test_canary_flow_deploy_split_promote(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0, startup=0.0)
    act = SimActuator(sim)
    assert act.deploy("web", "v2", 1).changed
    assert act.deploy("web", "v2", 1).changed is False
    r = act.set_traffic_split("web", {"v1": 9, "v2": 1})
    assert r.output["weights"] == pytest.approx({"v1": 0.9, "v2": 0.1})
    assert act.set_traffic_split("web", {"v1": 0.9, "v2": 0.1}).changed is False
    sim.step()
    assert last(sim, "web", "request_rate", version="v2") == pytest.approx(10.0)
    act.deploy("web", "v2", 4)
    act.set_traffic_split("web", {"v2": 1.0})
    act.deploy("web", "v1", 0)
    sim.step()
    assert sim.versions("web") == ["v2"]


def test_restart_and_named_actions(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0, startup=0.0)
    act = SimActuator(sim)
    inst = sim.instances("web")[0]
    sim.inject(Fault("memory_leak", instance=inst))
    assert act.restart(inst).ok
    assert sim.ground_truth()[0].healed_by == "restart"
    sim.inject(Fault("disk_fill", service="db", magnitude=0.5))
    sim.run(steps=2)
    r = act.run("clear_disk", {"service": "db"})
    assert r.output == {"cleared": 2} and r.changed
    assert act.run("clear_disk", {"service": "db"}).changed is False
    r = act.run("drain_node", {"node": "node-1"})
    assert r.output["evicted"] > 0
    assert act.run("drain_node", {"node": "node-1"}).changed is False
    sim.step()
    assert all(sim.instance_labels(sim.inst.index[i])[3] != "node-1" for i in sim.instances())
    assert act.run("uncordon_node", {"node": "node-1"}).changed
    act.deploy("web", "v2", 2)
    act.set_traffic_split("web", {"v1": 0.5, "v2": 0.5})
    r = act.run("rollback", {"service": "web"})
    assert r.output == {"version": "v1", "removed": ["v2"]}
    assert act.run("rollback", {"service": "web", "to_version": "v1"}).changed is False
    assert len(act.run("restart_service", {"service": "db"}).output["restarted"]) == 2


def test_bad_calls_raise_with_the_valid_choices(make_sim: Make) -> None:
    act = SimActuator(make_sim())
    with pytest.raises(UnknownName, match="clear_disk, drain_node"):
        act.run("reboot_universe", {})
    with pytest.raises(BadInput, match="'node'"):
        act.run("drain_node", {})
    with pytest.raises(NotFound, match="node-0"):
        act.run("drain_node", {"node": "node-7"})
    with pytest.raises(NotFound):
        act.restart("web-v1-42")
    with pytest.raises(BadInput):
        act.deploy("web", "bad version", 1)
