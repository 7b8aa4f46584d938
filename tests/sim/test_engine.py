from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

from hx.clock import SimClock
from hx.errors import BadInput, Conflict, NotFound
from hx.sim.engine import Simulation
from hx.sim.queueing import RHO_MAX
from hx.sim.spec import make_fleet

Make = Callable[..., Simulation]
Last = Callable[..., float]


def _history(sim: Simulation) -> np.ndarray:
    return np.array([f for f in sim.hist_service.frames])


def test_same_seed_same_history_and_other_seed_differs() -> None:
    a, b, c = (Simulation(make_fleet(6, seed=s)) for s in (3, 3, 4))
    for sim in (a, b, c):
        sim.run(steps=120)
    assert np.array_equal(_history(a), _history(b), equal_nan=True)
    assert a.names == b.names
    assert _history(a).shape != _history(c).shape or not np.array_equal(_history(a), _history(c), equal_nan=True)


def test_step_advances_time_and_the_clock() -> None:
    clock = SimClock(datetime(2026, 3, 2, tzinfo=UTC))
    sim = Simulation(make_fleet(2, seed=0), clock=clock, step_s=15.0)
    sim.step()
    assert sim.now == datetime(2026, 3, 2, 0, 0, 15, tzinfo=UTC)
    assert clock.now() == sim.now
    taken = sim.run_until(datetime(2026, 3, 2, 0, 1, 10, tzinfo=UTC))
    assert taken == 3  # 0:30, 0:45, 1:00 (1:15 does not fit)
    assert sim.hist_service.times[-1] == sim.t


def test_run_until_follows_a_clock_advanced_by_the_runtime() -> None:
    clock = SimClock(datetime(2026, 3, 2, tzinfo=UTC))
    sim = Simulation(make_fleet(2, seed=0), clock=clock)
    clock.advance(600)
    assert sim.run_until(clock.now()) == 10
    assert clock.now() == sim.now


def test_utilisation_and_latency_follow_load(make_sim: Make, last: Last) -> None:
    light = make_sim(rate=40.0)  # web: 40 / (4 x 50) = 20 %
    heavy = make_sim(rate=180.0)  # 90 %
    for sim in (light, heavy):
        sim.run(steps=3)
    assert last(light, "web", "utilization") == pytest.approx(0.2)
    assert last(heavy, "web", "utilization") == pytest.approx(0.9)
    assert last(light, "web", "error_rate") == pytest.approx(0.0005, abs=1e-9)
    assert last(heavy, "web", "latency_p99") > 5 * last(light, "web", "latency_p99")


def test_over_capacity_load_is_dropped_as_errors(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=300.0)  # web capacity 200
    sim.run(steps=2)
    dropped = 300.0 - 4 * RHO_MAX * 50.0
    assert last(sim, "web", "dropped_rate") == pytest.approx(dropped)
    assert last(sim, "web", "error_rate") == pytest.approx(dropped / 300.0, rel=0.01)
    assert last(sim, "web", "saturation") == pytest.approx(1.5)
    assert last(sim, "web", "slo_violation") == 1.0
    # the caller sees the failures of its dependency
    assert last(sim, "edge", "error_rate") >= last(sim, "web", "error_rate")


def test_call_graph_fans_load_out(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0)
    sim.run(steps=1)
    assert last(sim, "web", "request_rate") == pytest.approx(100.0)
    assert last(sim, "db", "request_rate") == pytest.approx(50.0)
    # a caller's latency includes its slowest dependency's
    assert last(sim, "edge", "latency_p50") > last(sim, "web", "latency_p50") > last(sim, "db", "latency_p50")


def test_new_replicas_need_their_start_up_time(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=180.0, startup=120.0)
    sim.run(steps=2)
    sim.scale("web", 8)
    sim.step()
    assert last(sim, "web", "replicas") == 8
    assert last(sim, "web", "ready_replicas") == 4
    assert last(sim, "web", "utilization") == pytest.approx(0.9)
    sim.step()  # 120 s after scaling: ready
    assert last(sim, "web", "ready_replicas") == 8
    assert last(sim, "web", "utilization") == pytest.approx(0.45)


def test_scaling_down_removes_replicas(make_sim: Make, last: Last) -> None:
    sim = make_sim()
    assert sim.scale("web", 2) == (4, 2)
    sim.step()
    assert last(sim, "web", "replicas") == 2
    assert len(sim.instances("web")) == 2
    with pytest.raises(BadInput):
        sim.scale("web", -1)
    with pytest.raises(NotFound, match="valid: edge, web, db"):
        sim.scale("nope", 1)


def test_traffic_split_by_version_and_signals_per_version(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0, startup=0.0)
    sim.deploy("web", "v2", 2)
    sim.step()
    assert last(sim, "web", "request_rate", version="v2") == 0.0  # a new version starts without traffic
    sim.set_traffic_split("web", {"v1": 0.75, "v2": 0.25})
    sim.step()
    assert last(sim, "web", "request_rate", version="v1") == pytest.approx(75.0)
    assert last(sim, "web", "request_rate", version="v2") == pytest.approx(25.0)
    assert last(sim, "web", "traffic_weight", version="v2") == pytest.approx(0.25)
    assert last(sim, "web", "replicas", version="v2") == 2
    assert sorted(sim.versions("web")) == ["v1", "v2"]
    with pytest.raises(NotFound, match="v9"):
        sim.set_traffic_split("web", {"v9": 1.0})
    with pytest.raises(BadInput):
        sim.set_traffic_split("web", {"v1": 0.0})


def test_a_version_given_no_traffic_need_not_exist(make_sim: Make, last: Last) -> None:
    """As the fleet actuator: aborting a rollout before its new version was deployed sends that version 0."""
    sim = make_sim(rate=100.0, startup=0.0)
    assert sim.set_traffic_split("web", {"v1": 100.0, "v7": 0.0}) is False
    sim.step()
    assert sim.versions("web") == ["v1"] and last(sim, "web", "request_rate", version="v1") == pytest.approx(100.0)
    with pytest.raises(NotFound, match="v7"):
        sim.set_traffic_split("web", {"v1": 50.0, "v7": 50.0})


def test_a_version_without_ready_replicas_fails_its_traffic(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0, startup=300.0)
    sim.deploy("web", "v2", 1)
    sim.set_traffic_split("web", {"v1": 0.5, "v2": 0.5})
    sim.step()
    assert last(sim, "web", "error_rate", version="v2") == 1.0
    assert last(sim, "web", "error_rate") == pytest.approx(0.5, abs=0.01)


def test_rollback_returns_traffic_to_the_previous_version(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0, startup=0.0)
    sim.deploy("web", "v2", 4)
    sim.set_traffic_split("web", {"v2": 1.0})
    sim.deploy("web", "v1", 0)
    sim.step()
    assert sim.versions("web") == ["v2"]
    target, removed = sim.rollback("web")
    assert (target, removed) == ("v1", ["v2"])
    sim.run(steps=2)
    assert sim.versions("web") == ["v1"]
    assert last(sim, "web", "request_rate", version="v1") == pytest.approx(100.0)
    with pytest.raises(Conflict):
        make_sim().rollback("web")


def test_history_is_bounded_by_its_budget() -> None:
    sim = Simulation(make_fleet(3, seed=0), history_mb=0.01)
    sim.run(steps=200)
    assert len(sim.hist_instance.times) <= sim.hist_instance.retention * 5 // 4 + 8
    assert sim.hist_service.times[-1] == sim.t


def test_removed_instances_keep_their_history_and_leave_the_step(make_sim: Make) -> None:
    sim = make_sim(startup=0.0)
    sim.run(steps=2)
    gone = sim.instances("web")[-1]
    for n in (2, 6, 3):  # churn: replicas come and go
        sim.scale("web", n)
        sim.step()
    assert gone not in sim.instances("web")
    assert sim.live().size == len(sim.instances()) == 2 + 3 + 2
    assert sim.last is not None and sim.last.slots.size == sim.live().size
    _, v = sim.series("web", "request_rate", instance=gone)
    assert v[:2] == pytest.approx([25.0, 25.0])
    assert np.isnan(v[2:]).all()


def test_a_pickled_simulation_resumes_exactly() -> None:
    sim = Simulation(make_fleet(4, seed=2))
    sim.run(steps=30)
    copy = pickle.loads(pickle.dumps(sim))
    sim.run(steps=30)
    copy.run(steps=30)
    assert np.array_equal(_history(sim), _history(copy), equal_nan=True)
    assert copy.clock.now() == sim.clock.now()


def test_a_fleet_with_every_node_drained_keeps_stepping_and_fails_all_requests() -> None:
    from hx.sim import Simulation, make_fleet

    sim = Simulation(make_fleet(2, seed=0))
    for node in sim.node_names:
        sim.drain_node(node)
    sim.run(steps=3)
    assert sim.series(sim.names[0], "error_rate")[1][-1] == 1.0
