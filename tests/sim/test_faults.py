from __future__ import annotations

from collections.abc import Callable

import pytest

from hx.errors import BadInput, Conflict, NotFound
from hx.sim.engine import Simulation
from hx.sim.faults import EXPECTED_SIGNALS, Fault, FaultKind

Make = Callable[..., Simulation]
Last = Callable[..., float]


def test_memory_leak_grows_memory_until_oom_restarts_and_restart_heals(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0, startup=0.0)
    sim.run(steps=2)
    base = last(sim, "web", "memory_utilization")
    inst = sim.instances("web")[0]
    fid = sim.inject(Fault("memory_leak", instance=inst, magnitude=0.05))
    sim.run(steps=5)
    assert last(sim, "web", "memory_utilization", instance=inst) > base + 0.2
    assert last(sim, "web", "memory_utilization", instance=sim.instances("web")[1]) == pytest.approx(base)
    sim.run(steps=10)  # 0.05/min from ~0.4: out of memory within 15 minutes
    assert last(sim, "web", "restarts", instance=inst) >= 1
    sim.restart(inst)
    rec = sim.ground_truth()[0]
    assert (rec.id, rec.healed_by, rec.instances) == (fid, "restart", (inst,))
    sim.run(steps=3)
    assert last(sim, "web", "memory_utilization", instance=inst) == pytest.approx(base)


def test_cpu_hog_raises_cpu_and_latency_then_heals(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=120.0)
    sim.step()
    cpu0, p99 = last(sim, "web", "cpu_utilization"), last(sim, "web", "latency_p99")
    fid = sim.inject(Fault("cpu_hog", service="web", magnitude=0.5))
    sim.step()
    assert last(sim, "web", "cpu_utilization") > cpu0 + 0.3
    assert last(sim, "web", "latency_p99") > 2 * p99
    assert last(sim, "web", "saturation") == pytest.approx(1.2)
    sim.heal(fid)
    sim.step()
    assert last(sim, "web", "cpu_utilization") == pytest.approx(cpu0)


def test_latency_regression_hits_only_its_version(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0, startup=0.0)
    sim.deploy("web", "v2", 4)
    sim.set_traffic_split("web", {"v1": 0.5, "v2": 0.5})
    sim.step()
    v1, v2 = last(sim, "web", "latency_p50", version="v1"), last(sim, "web", "latency_p50", version="v2")
    assert v1 == pytest.approx(v2)
    sim.inject(Fault("latency_regression", service="web", version="v2", magnitude=0.3))
    sim.step()
    assert last(sim, "web", "latency_p50", version="v1") == pytest.approx(v1)
    assert last(sim, "web", "latency_p50", version="v2") > v2 + 0.3
    assert last(sim, "web", "latency_p99") > last(sim, "web", "latency_p99", version="v1")
    sim.rollback("web", "v1")
    assert sim.ground_truth()[0].healed_by == "rollback"


def test_error_spike_defaults_to_the_newest_version(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0, startup=0.0)
    sim.deploy("web", "v2", 4)
    sim.set_traffic_split("web", {"v1": 0.5, "v2": 0.5})
    fid = sim.inject(Fault("error_spike", service="web", magnitude=0.4))
    sim.step()
    assert sim.ground_truth()[0].version == "v2"
    assert last(sim, "web", "error_rate", version="v2") == pytest.approx(0.4, abs=0.01)
    assert last(sim, "web", "error_rate", version="v1") < 0.01
    assert last(sim, "web", "error_rate") == pytest.approx(0.2, abs=0.01)
    sim.heal(fid)
    sim.step()
    assert last(sim, "web", "error_rate") < 0.01


def test_crash_loop_takes_replicas_out_until_restarted(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0, startup=0.0)
    victim = sim.instances("web")[0]
    sim.inject(Fault("crash_loop", instance=victim))
    sim.run(steps=3)
    assert last(sim, "web", "ready_replicas") == 3
    assert last(sim, "web", "restarts", instance=victim) >= 2
    assert last(sim, "web", "utilization") == pytest.approx(100 / 150)
    sim.restart(victim)
    sim.step()
    assert last(sim, "web", "ready_replicas") == 4
    assert sim.ground_truth()[0].healed_by == "restart"


def test_node_loss_kills_replicas_that_come_back_elsewhere_after_start_up(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0, startup=120.0, nodes=2)
    sim.step()
    on_node0 = [i for i in sim.instances() if sim.instance_labels(sim.inst.index[i])[3] == "node-0"]
    fid = sim.inject(Fault("node_loss", node="node-0"))
    sim.step()
    assert last(sim, "web", "ready_replicas") == 2
    assert last(sim, "web", "replicas") == 4  # replacements are starting on node-1
    sim.run(steps=2)
    assert last(sim, "web", "ready_replicas") == 4
    assert all(sim.instance_labels(sim.inst.index[i])[3] == "node-1" for i in sim.instances())
    rec = sim.heal(fid)
    assert set(rec.instances) == set(on_node0)
    assert sim.node_up.all()


def test_disk_fill_errors_when_full_and_clear_disk_heals(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0)
    inst = sim.instances("web")[1]
    sim.inject(Fault("disk_fill", instance=inst, magnitude=0.2))
    sim.run(steps=5)
    assert last(sim, "web", "disk_utilization") == 1.0
    assert last(sim, "web", "error_rate", instance=inst) == pytest.approx(0.5, abs=0.01)
    assert last(sim, "web", "error_rate") > 0.1
    assert sim.clear_disk(instance=inst) == 1
    sim.step()
    assert last(sim, "web", "disk_utilization") == pytest.approx(0.2)
    assert sim.ground_truth()[0].healed_by == "clear_disk"


def test_dependency_failure_propagates_to_callers_only(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0)
    sim.step()
    edge_p99 = last(sim, "edge", "latency_p99")
    fid = sim.inject(Fault("dependency_failure", service="web", magnitude=0.3))
    sim.step()
    assert last(sim, "web", "error_rate") == pytest.approx(0.3, abs=0.01)
    assert last(sim, "edge", "error_rate") >= 0.3
    assert last(sim, "edge", "latency_p99") > edge_p99 + 0.2
    assert last(sim, "db", "error_rate") == 0.0
    sim.heal(fid)
    sim.step()
    assert last(sim, "edge", "error_rate") < 0.01


def test_traffic_surge_multiplies_load_and_expires(make_sim: Make, last: Last) -> None:
    sim = make_sim(rate=100.0)
    sim.inject(Fault("traffic_surge", magnitude=3.0, duration_s=120))
    sim.step()
    assert last(sim, "web", "request_rate") == pytest.approx(300.0)
    assert last(sim, "web", "error_rate") > 0.2  # beyond web's 200 rps
    sim.run(steps=2)
    assert last(sim, "web", "request_rate") == pytest.approx(100.0)
    assert sim.ground_truth()[0].healed_by == "expired"


def test_ground_truth_records_what_where_when(make_sim: Make) -> None:
    sim = make_sim()
    sim.run(steps=3)
    fid = sim.inject(Fault("cpu_hog", service="db"))
    sim.run(steps=2)
    sim.heal(fid)
    again = sim.heal(fid)  # idempotent
    d = again.to_dict()
    assert d["kind"] == "cpu_hog" and d["service"] == "db"
    assert d["injected_at"] == "2026-01-05T00:03:00+00:00"
    assert d["healed_at"] == "2026-01-05T00:05:00+00:00"
    assert d["expected_signals"] == list(EXPECTED_SIGNALS[FaultKind.CPU_HOG])
    assert len(d["instances"]) == 2


def test_bad_faults_are_refused(make_sim: Make) -> None:
    sim = make_sim()
    with pytest.raises(BadInput, match="valid: memory_leak"):
        sim.inject(Fault("meteor"))
    with pytest.raises(BadInput, match="node="):
        sim.inject(Fault("node_loss"))
    with pytest.raises(NotFound, match="node-0"):
        sim.inject(Fault("node_loss", node="node-9"))
    with pytest.raises(NotFound):
        sim.heal("f9999")
    with pytest.raises(NotFound, match="v7"):
        sim.inject(Fault("error_spike", service="web", version="v7"))
    sim.scale("db", 0)
    sim.step()
    with pytest.raises(Conflict):
        sim.inject(Fault("memory_leak", service="db"))
